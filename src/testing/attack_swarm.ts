/**
 * One local run with honest and hostile peers as processes (src/cli/swarm.ts,
 * src/testing/attacker_main.ts), summarised for the attack test and `deno task attack`: the
 * validator's records (who was selected, the model hash after each), when each record came
 * relative to its deadline, every log line, and which roles exited. Keys come from a seed, so a
 * clean run and a hostile run of the same honest peers can be compared hash for hash.
 *
 * @module
 */

import type { AttackKind } from "./attacker.ts";
import type { AppliedEvent, RoleEvent, RoundEvent } from "../roles/role_events.ts";
import type { Genesis } from "../protocol/genesis.ts";
import { runContext } from "../protocol/run_context.ts";
import { Swarm, type SwarmOptions } from "../cli/swarm.ts";

/** Settings of one attack run. */
export interface AttackRunOptions {
  /** Run folder (cleared of role data first). */
  dir: string;
  /** Seed of every key: same seed, same honest peers. */
  keySeed: string;
  /** Honest peers. */
  honest: number;
  /** One attacker per entry. */
  attacks: readonly AttackKind[];
  /** Records to wait for (windows 0 … windows − 1). */
  windows: number;
  windowMs: number;
  /** Genesis fields (H, batch, …). */
  genesis?: SwarmOptions["genesis"];
  /** Scoring overrides of the genesis. */
  gauntlet?: Genesis["gauntlet"];
  /** Window 0 opens this long after the run is created (ms). */
  startDelayMs?: number;
  /** Gives up after this long (ms). */
  timeoutMs?: number;
}

/** A record as the validator announced it, and when. */
export interface SeenRecord {
  window: number;
  /** θ after the record. */
  modelHash: string;
  selected: string[];
  /** ms after the window's deadline (window end + grace) that the validator applied it. */
  lateMs: number;
}

/** What one attack run showed. */
export interface AttackRun {
  /** Honest peers' addresses, by index. */
  honest: string[];
  /** Attackers' addresses, in the order of `attacks`. */
  attackers: string[];
  records: SeenRecord[];
  /** Honest peers' round reports. */
  rounds: { name: string; e: RoundEvent }[];
  /** Every log line, "name: line". */
  logs: string[];
  /** Roles that exited before the end, with their exit code. */
  exited: string[];
  /** The window length and grace of the run. */
  windowMs: number;
  graceMs: number;
  /** The genesis written for the run. */
  genesis: Genesis;
}

/** Runs a swarm of `honest` peers and one attacker per kind until `windows` records are in. */
export async function runAttackSwarm(o: AttackRunOptions): Promise<AttackRun> {
  const records: SeenRecord[] = [];
  const rounds: { name: string; e: RoundEvent }[] = [];
  const logs: string[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  let ctx: ReturnType<typeof runContext> | null = null;
  const swarm = await Swarm.create({
    dir: o.dir,
    windowMs: o.windowMs,
    startDelayMs: o.startDelayMs ?? 12_000 + 1_500 * (o.honest + o.attacks.length),
    backend: "cpu",
    keySeed: o.keySeed,
    gauntlet: o.gauntlet,
    genesis: o.genesis,
    onEvent: (name: string, e: RoleEvent) => {
      if (e.event === "log") logs.push(`${name}: ${e.line}`);
      if (e.event === "round" && name.startsWith("peer-")) rounds.push({ name, e });
      if (e.event === "applied" && name === "validator" && ctx !== null) {
        const a = e as AppliedEvent;
        const deadline = ctx.clock.windowEnd(a.window) + ctx.graceMs;
        records.push({
          window: a.window,
          modelHash: a.modelHash,
          selected: a.selected,
          lateMs: Date.now() - deadline,
        });
        if (records.length >= o.windows) done();
      }
    },
    onStderr: (name, line) => logs.push(`${name} ! ${line}`),
  });
  ctx = runContext(swarm.genesis);
  const timeout = setTimeout(done, o.timeoutMs ?? o.windowMs * (o.windows + 6) + 120_000);
  try {
    await swarm.startValidator();
    const honest = await Promise.all(
      Array.from({ length: o.honest }, (_, i) => swarm.startPeer(i)),
    );
    const attackers = await Promise.all(o.attacks.map((k, i) => swarm.startAttacker(i, k)));
    await finished;
    const exited: string[] = [];
    for (const r of swarm.roles.values()) {
      const s = await Promise.race([r.exited, Promise.resolve(null)]);
      if (s !== null) exited.push(`${r.name} (code ${s.code})`);
    }
    return {
      honest: honest.map((p) => p.address),
      attackers: attackers.map((p) => p.address),
      records: [...records].sort((a, b) => a.window - b.window),
      rounds,
      logs,
      exited,
      windowMs: o.windowMs,
      graceMs: ctx.graceMs,
      genesis: swarm.genesis,
    };
  } finally {
    clearTimeout(timeout);
    await swarm.stop();
  }
}

/** The model hash after the record of window `w` (undefined when there is none). */
export function hashAfter(run: AttackRun, w: number): string | undefined {
  return run.records.find((r) => r.window === w)?.modelHash;
}
