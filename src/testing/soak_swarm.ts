/**
 * The churn soak (`deno task soak`): a local swarm (src/cli/swarm.ts) in which a share of the
 * peers is SIGKILLed at seeded random points of every window and restarted at once from its
 * data directory, for a number of windows; then calm windows, and the verdict: rounds that
 * stalled (no record within one window of its deadline), peers not on the validator's hash at
 * the end, model hashes that differ from the validator's for any window, and restarts that
 * lost state (started over from the network, or replayed windows their data dir held).
 *
 * @module
 */

import { Swarm } from "../cli/swarm.ts";
import { runContext } from "../protocol/run_context.ts";
import type { AppliedEvent, CaughtUpEvent, RoleEvent, RoundEvent } from "../roles/role_events.ts";
import { Rng } from "../util/rng.ts";

/** Settings of one soak. */
export interface SoakOptions {
  /** Run folder (its role data is cleared first). */
  dir: string;
  /** Peers. */
  peers: number;
  /** Share of the peers killed in every churn window. */
  killShare: number;
  /** Windows with kills. */
  rounds: number;
  /** Calm windows after them, before the verdict. */
  calm: number;
  windowMs: number;
  /** Seed of the kill schedule and of the keys. */
  seed: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** One kill and its restart. */
export interface SoakKill {
  peer: string;
  window: number;
  /** ms into the window. */
  atMs: number;
  /** The window of the state its data dir held when it was killed (−1: none). */
  savedApplied: number;
  /** Records it applied catching up after the restart, and the window it caught up to. */
  caughtUp?: { records: number; applied: number };
  /** It restarted from nothing (a quarantined state, or records it held replayed). */
  lost: boolean;
}

/** What one soak showed. */
export interface SoakResult {
  peers: number;
  rounds: number;
  windowMs: number;
  kills: SoakKill[];
  /** Windows with kills whose record came over a window late, or never. */
  stalled: number[];
  /** Windows for which some peer applied a hash other than the validator's. */
  divergent: number[];
  /** The window compared at the end, and the peers not on the validator's hash for it. */
  finalWindow: number;
  offHash: string[];
  /** Restarts that lost state. */
  losses: number;
  /** Contributors of each churn and calm window's record (−1: no record). */
  contributors: number[];
  /** Peers that finished training each of those windows, and their mean inner-step time (ms). */
  trained: { peers: number; computeMs: number }[];
  /** Wall time (s). */
  seconds: number;
  /** The last log lines, for a failed soak. */
  tail: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs one soak; every process it starts is stopped before it returns. */
export async function runChurnSoak(o: SoakOptions): Promise<SoakResult> {
  const t0 = Date.now();
  const log = o.log ?? (() => {});
  const hashes = new Map<string, Map<number, string>>(); // role → window → hash
  const recordAt = new Map<number, number>(); // window → when the validator applied it
  const contributors = new Map<number, number>(); // window → contributors of its record
  const trained = new Map<number, RoundEvent[]>(); // window → the peers' round reports
  const caughtUp = new Map<string, CaughtUpEvent[]>();
  const quarantined = new Set<string>();
  const logs: string[] = [];
  const swarm = await Swarm.create({
    dir: o.dir,
    windowMs: o.windowMs,
    startDelayMs: 15_000 + 2_000 * o.peers,
    backend: "cpu",
    keySeed: `soak-${o.seed}`,
    genesis: { sparseloco: { H: 4 }, data: { batch: 2 }, checkpointInterval: 5 },
    onEvent: (name: string, e: RoleEvent) => {
      if (e.event === "applied") {
        const a = e as AppliedEvent;
        if (!hashes.has(name)) hashes.set(name, new Map());
        hashes.get(name)!.set(a.window, a.modelHash);
        if (name === "validator") {
          recordAt.set(a.window, Date.now());
          contributors.set(a.window, a.contributors);
        }
      }
      if (e.event === "round") {
        const r = e as RoundEvent;
        trained.set(r.window, [...(trained.get(r.window) ?? []), r]);
      }
      if (e.event === "caught-up") {
        caughtUp.set(name, [...(caughtUp.get(name) ?? []), e as CaughtUpEvent]);
      }
      if (e.event === "log") {
        logs.push(`${name}: ${e.line}`);
        if (e.line.includes("starting from the network")) quarantined.add(name);
      }
    },
    onStderr: (name, line) => logs.push(`${name} ! ${line}`),
  });
  const ctx = runContext(swarm.genesis);
  const rng = new Rng(o.seed);
  const kills: SoakKill[] = [];
  const restarting = new Set<number>();
  const names = Array.from({ length: o.peers }, (_, i) => `peer-${i}`);

  /** Reads the window of a peer's saved state (−1 when it has none). */
  const savedApplied = async (i: number): Promise<number> => {
    try {
      const p = JSON.parse(await Deno.readTextFile(`${o.dir}/peer-${i}/state.json`));
      return typeof p.applied === "number" ? p.applied : -1;
    } catch {
      return -1;
    }
  };

  /** Kills peer `i` `atMs` into window `w` and restarts it. */
  const churn = async (i: number, w: number, atMs: number): Promise<void> => {
    restarting.add(i);
    try {
      await sleep(Math.max(0, ctx.clock.windowStart(w) + atMs - Date.now()));
      const name = `peer-${i}`;
      const before = caughtUp.get(name)?.length ?? 0;
      swarm.kill(name, "SIGKILL");
      await swarm.roles.get(name)!.exited;
      const kill: SoakKill = {
        peer: name,
        window: w,
        atMs,
        savedApplied: await savedApplied(i),
        lost: false,
      };
      kills.push(kill);
      quarantined.delete(name);
      await swarm.startPeer(i);
      // Caught up: the first catch-up event of the new process.
      const end = Date.now() + 6 * o.windowMs;
      while ((caughtUp.get(name)?.length ?? 0) <= before && Date.now() < end) await sleep(200);
      const c = caughtUp.get(name)?.[before];
      if (c !== undefined) kill.caughtUp = { records: c.records, applied: c.applied };
      // A peer that resumed applies only the records after its saved state.
      kill.lost = quarantined.has(name) ||
        (c !== undefined && c.records > c.applied - kill.savedApplied);
    } finally {
      restarting.delete(i);
    }
  };

  try {
    await swarm.startValidator();
    await Promise.all(names.map((_, i) => swarm.startPeer(i)));
    log(`started the validator and ${o.peers} peers`);
    // Churn from the first window that opens after everyone is up.
    const first = ctx.clock.windowAt(Date.now()) + 1;
    const pending: Promise<void>[] = [];
    for (let w = first; w < first + o.rounds; w++) {
      await sleep(Math.max(0, ctx.clock.windowStart(w) - Date.now()));
      const up = names.map((_, i) => i).filter((i) => !restarting.has(i));
      const count = Math.min(up.length, Math.round(o.killShare * o.peers));
      for (let k = 0; k < count; k++) {
        const i = up.splice(rng.int(up.length), 1)[0];
        pending.push(churn(i, w, Math.round((0.05 + 0.9 * rng.uniform()) * o.windowMs)));
      }
      log(`window ${w}: ${count} kills scheduled; ${kills.length} kills so far`);
    }
    await Promise.all(pending);
    // Calm windows, then every peer must hold the validator's hash of the last record.
    const last = first + o.rounds + o.calm;
    await sleep(Math.max(0, ctx.clock.windowEnd(last) + ctx.graceMs + 2_000 - Date.now()));
    const v = hashes.get("validator") ?? new Map<number, string>();
    const finalWindow = Math.max(-1, ...v.keys());
    const waitEnd = Date.now() + 3 * o.windowMs;
    const onHash = (n: string) => hashes.get(n)?.get(finalWindow) === v.get(finalWindow);
    while (!names.every(onHash) && Date.now() < waitEnd) await sleep(250);
    const stalled: number[] = [];
    for (let w = first; w < first + o.rounds; w++) {
      const at = recordAt.get(w);
      if (at === undefined || at > ctx.clock.windowEnd(w) + ctx.graceMs + o.windowMs) {
        stalled.push(w);
      }
    }
    const divergent = new Set<number>();
    for (const n of names) {
      for (const [w, h] of hashes.get(n) ?? []) if (v.has(w) && v.get(w) !== h) divergent.add(w);
    }
    return {
      peers: o.peers,
      rounds: o.rounds,
      windowMs: o.windowMs,
      kills,
      stalled,
      divergent: [...divergent].sort((a, b) => a - b),
      finalWindow,
      offHash: names.filter((n) => !onHash(n)),
      losses: kills.filter((k) => k.lost).length,
      contributors: Array.from(
        { length: o.rounds + o.calm },
        (_, k) => contributors.get(first + k) ?? -1,
      ),
      trained: Array.from({ length: o.rounds + o.calm }, (_, k) => {
        const rs = trained.get(first + k) ?? [];
        const ms = rs.reduce((n, r) => n + r.computeMs, 0) / Math.max(1, rs.length);
        return { peers: rs.length, computeMs: Math.round(ms) };
      }),
      seconds: Math.round((Date.now() - t0) / 1000),
      tail: logs.slice(-30),
    };
  } finally {
    await swarm.stop();
  }
}
