/**
 * Validators with a genesis `quorum` (3 validators, 2 votes), in this process on 127.0.0.1,
 * no peers: every record is empty, so a window costs milliseconds of work and only the
 * agreement is measured. The proposals of one window are lost (dropped as each validator
 * publishes them; their votes travel): each validator up proposes its own record in its turn
 * and votes for it, so the window's votes split and no record of it can count.
 */

import { generateKeyPair } from "@libp2p/crypto/keys";
import { cpuOps } from "../backend/cpu_ops.ts";
import { decodeMessage } from "../codec/messages.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { createDenoNode } from "../net/deno_node.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { MemoryStore } from "../protocol/memory_store.ts";
import { settledAt } from "../protocol/quorum.ts";
import { runContext } from "../protocol/run_context.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { pollUntil } from "../testing/poll_until.ts";
import type { AppliedEvent } from "./role_events.ts";
import { type RoleHandle, startRole } from "./start_role.ts";

await identityReady();

const WINDOW_MS = 4_000, FALLBACK_MS = 1_000;
/** The window whose proposals are lost. */
const LOST = 2;

/**
 * Runs the validators `up` (indices into Alice, Bob, Charlie; the others never start) until
 * `done` holds of what each applied (with when), then stops them.
 */
async function run(
  up: number[],
  done: (applied: (AppliedEvent & { at: number })[][]) => boolean,
  budgetWindows: number,
  restart?: "after the lost window settled",
) {
  const signers = ["//Alice", "//Bob", "//Charlie"].map((u) => KeySigner.fromUri(u));
  const ctx = runContext(localGenesis({
    validators: signers.map((s) => s.address),
    genesisTime: Date.now() + 6_000,
    windowMs: WINDOW_MS,
    quorum: { votes: 2, fallbackMs: FALLBACK_MS },
  }));
  const lost = (data: Uint8Array) => {
    const m = decodeMessage(data);
    return m.ok && m.message.body.kind === "round-record" && m.message.body.window === LOST;
  };
  const applied: (AppliedEvent & { at: number })[][] = up.map(() => []);
  const logs: string[] = [];
  const stores = up.map(() => new MemoryStore());
  let roles: RoleHandle[] = [];
  /** Starts the validators `up` over their stores (again: a restart from their data). */
  const startAll = async () => {
    const addresses: string[] = [];
    for (const [i, v] of up.entries()) {
      roles.push(
        await startRole({
          role: "validator",
          ctx,
          signer: signers[v],
          store: stores[i],
          libp2pKey: await generateKeyPair("Ed25519"),
          bootstrap: [...addresses],
          createNode: async (o) => {
            const node = await createDenoNode({ ...o, listen: ["/ip4/127.0.0.1/tcp/0"] });
            const publish = node.publish.bind(node);
            node.publish = (topic, data) => lost(data) ? Promise.resolve(0) : publish(topic, data);
            return node;
          },
          emit: (e) => {
            if (e.event === "applied") applied[i].push({ ...e, at: Date.now() });
            if (e.event === "log") logs.push(`${v}: ${e.line}`);
          },
          ops: cpuOps(32),
          tokens: Uint32Array.from({ length: 4096 }, (_, k) => k % 256),
        }),
      );
      addresses.push(...roles[i].node.addresses());
    }
  };
  try {
    await startAll();
    if (restart !== undefined) {
      // Each has voted for its own record of the lost window: all stop, and come back after
      // the window settled, when nobody re-announces its votes by the old rule.
      await pollUntil(
        "every vote of the lost window",
        () => up.every((v) => logs.some((l) => l.startsWith(`${v}: window ${LOST} proposed`))),
        {
          deadline: ctx.clock.windowEnd(LOST) + 2 * WINDOW_MS,
          logs,
        },
      );
      for (const r of roles) await r.stop();
      roles = [];
      await new Promise((ok) => setTimeout(ok, Math.max(0, settledAt(ctx, LOST) - Date.now())));
      await startAll();
    }
    await pollUntil("the records awaited", () => done(applied), {
      deadline: ctx.clock.windowEnd(LOST) + budgetWindows * WINDOW_MS,
      logs,
    });
  } finally {
    for (const r of roles) await r.stop();
  }
  // One model per record on every validator.
  const hashes = new Map<number, Set<string>>();
  for (const e of applied.flat()) {
    hashes.set(e.window, (hashes.get(e.window) ?? new Set()).add(e.modelHash));
  }
  for (const [w, h] of hashes) assertEquals(h.size, 1, `one model after record ${w}`);
  return { ctx, applied, deadline: (w: number) => ctx.clock.windowEnd(w) + ctx.graceMs };
}

Deno.test({
  name: "validators with a quorum start the window after a lost one on time, on one model",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const NEXT = LOST + 1;
    const { applied, deadline } = await run(
      [0, 1, 2],
      (a) => a.every((e) => e.some((r) => r.window === NEXT)),
      4,
    );
    for (const [i, a] of applied.entries()) {
      assertEquals(a.map((e) => e.window).filter((w) => w <= NEXT), [0, 1, NEXT], `validator ${i}`);
    }
    // Its three votes seen, the lost window freed its voters at once, not at its give-up time
    // (n fallbacks after the next deadline, 3 s): the next window's first proposer proposed in
    // its turn.
    const late = Math.min(...applied.map((a) => a.find((e) => e.window === NEXT)!.at)) -
      deadline(NEXT);
    console.log(
      `record ${NEXT} (after the lost window ${LOST}) counted ${late} ms after its deadline`,
    );
    assert(late < 2 * FALLBACK_MS, `record ${NEXT} counted ${late} ms after its deadline`);
  },
});

Deno.test({
  name: "validators with a quorum, one down, go on after a split window once its votes are settled",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // Alice and Bob up, Charlie never started: window 2's two votes split, Charlie's may go to
    // either record until the window is settled, so neither proposes from that head before.
    const { ctx, applied } = await run(
      [0, 1],
      (a) => a.every((e) => e.some((r) => r.window > LOST)),
      8,
    );
    const after = applied.map((a) => a.find((e) => e.window > LOST)!);
    assertEquals(applied.map((a) => a.some((e) => e.window === LOST)), [false, false]);
    assertEquals(after[0].window, after[1].window);
    const settled = settledAt(ctx, LOST);
    const first = Math.min(...after.map((e) => e.at));
    console.log(
      `record ${after[0].window} after the split window ${LOST} counted ${
        first - settled
      } ms after it settled (${
        ((settled - ctx.clock.windowEnd(LOST)) / 1000).toFixed(1)
      } s after its end)`,
    );
    assert(first >= settled, "no record from the split window's head before it settled");
    assert(first < settled + 2 * WINDOW_MS, `bounded: ${first - settled} ms after it settled`);
  },
});

Deno.test({
  name: "validators with a quorum restarted after a split window settled find its votes, go on",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // All three voted for their own records of window 2 and restarted after it settled: each
    // is held from the head (a restarted validator may have missed votes) until it sees the
    // others' votes, which are re-announced while they hold (before, only until the window's
    // last vote time: all three stayed held for good).
    const { ctx, applied } = await run(
      [0, 1, 2],
      (a) => a.every((e) => e.some((r) => r.window > LOST)),
      9,
      "after the lost window settled",
    );
    assertEquals(applied.map((a) => a.some((e) => e.window === LOST)), [false, false, false]);
    const first = Math.min(...applied.map((a) => a.find((e) => e.window > LOST)!.at));
    console.log(
      `after the restart, a record after the split window ${LOST} counted ${
        first - settledAt(ctx, LOST)
      } ms after it settled`,
    );
  },
});
