/**
 * `deno task status`: the state of a run, read from the network by a node that only listens
 * — it trains, signs and publishes nothing, and needs no key.
 *
 *   deno task status --genesis FILE [--bootstrap MA]… [--records 5] [--bootstrap-timeout S] [--json]
 *
 * It dials the bootstrap nodes (the genesis's and `--bootstrap`), fetches the signed round
 * records over the sync protocol, verifies each against the genesis, and prints the window
 * open now, the last records, every contributor with the rounds it was selected in and its
 * credit (src/protocol/credit.ts, summed over the records), and the validation loss curve.
 *
 * @module
 */

import { createDenoNode } from "../net/deno_node.ts";
import type { WeblocoNode } from "../net/node.ts";
import type { SyncCheckpoint } from "../net/sync_protocol.ts";
import { creditTable } from "../protocol/credit.ts";
import { gauntletOf } from "../protocol/genesis.ts";
import { gossipRules } from "../protocol/gossip_rules.ts";
import { type SignedRecord, verifyRecord } from "../protocol/record_log.ts";
import { type RunContext, runContext } from "../protocol/run_context.ts";
import { hex } from "../util/hex.ts";
import { numberFlag, parseFlags, runCli, UsageError } from "./cli.ts";
import { readGenesisFile } from "./genesis_file.ts";
import { awaitBootstrap, checkAddresses, DEFAULT_BOOTSTRAP_TIMEOUT_S } from "./role_main.ts";

const USAGE = "usage: deno task status --genesis FILE [--bootstrap MA]… [--records 5] " +
  "[--bootstrap-timeout S] [--json]";

/** One round as the status shows it. */
export interface RoundSummary {
  window: number;
  /** Hex hash of θ_{w+1}. */
  modelHash: string;
  /** Selected addresses, best score first. */
  contributors: string[];
  /** The held-out loss the record carries, null: none. */
  validLoss: number | null;
}

/** What `deno task status` prints (also its `--json` object). */
export interface RunStatus {
  run: string;
  runId: string;
  /** The window open at `now` (−1 before the genesis time). */
  window: number;
  windowMs: number;
  /** Records known (verified). */
  records: number;
  /** The last `last` rounds, oldest first. */
  last: RoundSummary[];
  /** The newest checkpoint a node serves, null: none. */
  checkpoint: SyncCheckpoint | null;
  /** Every selected peer: rounds selected and summed credit, most credit first. */
  contributors: { address: string; rounds: number; credit: number }[];
  /** Validation loss by window, for the records that carry one. */
  validLoss: { window: number; loss: number }[];
}

/** The run's state from its verified records (any order, one per window). */
export function summarizeRun(
  ctx: RunContext,
  records: readonly SignedRecord[],
  checkpoint: SyncCheckpoint | null,
  now: number,
  last: number,
): RunStatus {
  const spec = gauntletOf(ctx.genesis);
  const sorted = [...records].sort((a, b) => a.record.window - b.record.window);
  const rounds: RoundSummary[] = sorted.map(({ record: r }) => {
    const score = new Map((r.scored ?? []).map((s) => [s.address, s.score]));
    return {
      window: r.window,
      modelHash: hex(r.nextModelHash),
      // The validator selects best rated first; the record keeps the scores, not the order.
      contributors: r.contributors.map((c) => c.address).sort((a, b) =>
        (score.get(b) ?? 0) - (score.get(a) ?? 0) || (a < b ? -1 : 1)
      ),
      validLoss: r.validLoss ?? null,
    };
  });
  const byAddress = new Map<string, { address: string; rounds: number; credit: number }>();
  for (const r of rounds) {
    for (const c of creditTable(r.contributors, spec)) {
      const e = byAddress.get(c.address) ?? { address: c.address, rounds: 0, credit: 0 };
      e.rounds++;
      e.credit += c.share;
      byAddress.set(c.address, e);
    }
  }
  return {
    run: ctx.genesis.name,
    runId: ctx.runIdHex,
    window: ctx.clock.windowAt(now),
    windowMs: ctx.genesis.windowMs,
    records: rounds.length,
    last: rounds.slice(-last),
    checkpoint,
    contributors: [...byAddress.values()].sort((a, b) =>
      b.credit - a.credit || (a.address < b.address ? -1 : 1)
    ),
    validLoss: rounds.flatMap((r) =>
      r.validLoss === null ? [] : [{ window: r.window, loss: r.validLoss }]
    ),
  };
}

/** The status as lines of text. */
export function formatRunStatus(s: RunStatus): string[] {
  const out = [
    `run ${s.run} · id ${s.runId.slice(0, 16)}… · window ${s.window} open now (${
      s.windowMs / 1000
    } s windows) · ${s.records} round records`,
    s.checkpoint === null
      ? "newest checkpoint: none served"
      : `newest checkpoint: window ${s.checkpoint.window}, ${
        s.checkpoint.hash.slice(0, 12)
      }, ${s.checkpoint.size} bytes`,
  ];
  if (s.last.length > 0) {
    out.push(
      `last ${s.last.length} rounds (window · contributors · validation loss · model after):`,
    );
    for (const r of s.last) {
      out.push(
        `  ${String(r.window).padStart(6)}  ${String(r.contributors.length).padStart(3)}  ${
          r.validLoss === null ? "   —  " : r.validLoss.toFixed(4)
        }  ${r.modelHash.slice(0, 12)}`,
      );
    }
  }
  if (s.contributors.length > 0) {
    out.push("contributors (rounds selected · credit, summed shares of each round):");
    for (const c of s.contributors) {
      out.push(`  ${c.address}  ${String(c.rounds).padStart(5)}  ${c.credit.toFixed(3)}`);
    }
  }
  out.push(
    s.validLoss.length === 0
      ? "validation loss: no record carries one yet"
      : `validation loss: ${
        s.validLoss.map((v) => `w${v.window} ${v.loss.toFixed(3)}`).join(" · ")
      }`,
  );
  return out;
}

/** Every verified record `provider` serves (following `more`), and its checkpoint. */
async function fetchHistory(
  ctx: RunContext,
  node: WeblocoNode,
  provider: string,
): Promise<{ records: SignedRecord[]; checkpoint: SyncCheckpoint | null }> {
  const records: SignedRecord[] = [];
  let from = 0;
  let checkpoint: SyncCheckpoint | null = null;
  for (let page = 0; page < 10_000; page++) {
    const res = await node.sync(provider, from, { timeoutMs: 20_000 });
    checkpoint = res.checkpoint;
    for (const bytes of res.records) {
      const r = verifyRecord(ctx, bytes);
      if (typeof r === "string") {
        throw new UsageError(`a record from ${provider} does not verify: ${r}`);
      }
      records.push(r);
      from = Math.max(from, r.record.window + 1);
    }
    if (!res.more || res.records.length === 0) break;
  }
  return { records, checkpoint };
}

async function main(args: readonly string[]): Promise<void> {
  const v = parseFlags({
    args: [...args],
    options: {
      genesis: { type: "string" },
      bootstrap: { type: "string", multiple: true, default: [] },
      records: { type: "string" },
      "bootstrap-timeout": { type: "string" },
      json: { type: "boolean", default: false },
    },
    strict: true,
  }, USAGE).values;
  if (v.genesis === undefined) throw new UsageError(`--genesis is required (${USAGE})`);
  const extra = checkAddresses("bootstrap", v.bootstrap!);
  const last = numberFlag("records", v.records, 5, { integer: true, min: 0 });
  const timeoutMs = 1000 * numberFlag(
    "bootstrap-timeout",
    v["bootstrap-timeout"],
    DEFAULT_BOOTSTRAP_TIMEOUT_S,
    { integer: false },
  );
  const ctx = runContext(await readGenesisFile(v.genesis));
  const bootstrap = [...ctx.genesis.bootstrap, ...extra];
  if (bootstrap.length === 0) {
    throw new UsageError(`--bootstrap is required: the genesis names no bootstrap node (${USAGE})`);
  }
  const node = await createDenoNode({
    runId: ctx.runId,
    validate: gossipRules(ctx, () => node.topics, {}),
    bootstrap,
    bootstrapIntervalMs: 2_000,
    listen: [],
  });
  try {
    const found = await awaitBootstrap(node, ctx, bootstrap, timeoutMs);
    let history: Awaited<ReturnType<typeof fetchHistory>> | null = null;
    const failures: string[] = [];
    for (const p of found) {
      try {
        history = await fetchHistory(ctx, node, p);
        break;
      } catch (e) {
        if (e instanceof UsageError) throw e;
        failures.push(`${p}: ${(e as Error).message}`);
      }
    }
    if (history === null) {
      throw new UsageError(`no node served the run's records (${failures.join("; ")})`);
    }
    const s = summarizeRun(ctx, history.records, history.checkpoint, Date.now(), last);
    console.log(v.json ? JSON.stringify(s) : formatRunStatus(s).join("\n"));
  } finally {
    await node.stop();
  }
}

if (import.meta.main) await runCli(() => main(Deno.args));
