/**
 * Several validators (genesis `quorum`, docs/VALIDATORS.md) end to end, as processes on
 * 127.0.0.1: three validators and two peers. The validator due to propose the next window is
 * SIGKILLed: that window's record still comes, from the next proposer after the bounded
 * fallback, and rounds go on. Restarted from its data directory it rejoins on the others' hash.
 * Then another validator's key is taken over by a dishonest one
 * (src/testing/dishonest_validator_main.ts) that proposes records with a wrong aggregate and
 * votes twice: the honest validators refuse its records and the run goes on. Every honest
 * role holds one hash per window throughout. 4 s windows, H 2, CPU backend.
 *
 * A second run does the same with the overlapped rounds (`rounds.outerDelay: 1`) and a
 * validator that rejoins after a window's votes were sent: with the other two validators
 * killed, the window's first proposer proposes and votes alone; one of them is restarted
 * after that and still votes for that very record (re-announced), which then counts.
 */

import { assert, assertEquals } from "../testing/assert.ts";
import { pollUntil } from "../testing/poll_until.ts";
import type { AppliedEvent, RoleEvent } from "../roles/role_events.ts";
import { Swarm, validatorName } from "./swarm.ts";
import { proposerOrder } from "../protocol/quorum.ts";
import { runContext } from "../protocol/run_context.ts";

/** The windows `name` voted in (its own proposals included), from its log lines. */
function votesOf(name: string, logs: readonly string[]): Set<number> {
  const re = new RegExp(
    `^${name}: (?:voted for the record of window (\\d+) from|window (\\d+) proposed)`,
  );
  const ws = logs.map((l) => re.exec(l)).filter((m) => m !== null);
  return new Set(ws.map((m) => Number(m![1] ?? m![2])));
}

const DISHONEST = new URL("../testing/dishonest_validator_main.ts", import.meta.url).pathname;
const FALLBACK_MS = 1_500;

/** A swarm of 3 validators (quorum 2) and what a test waits on: events, logs, bounded waits. */
async function harness(
  prefix: string,
  rounds: { outerDelay: 0 | 1 } | undefined,
  fallbackMs: number,
  boundMs: number,
) {
  const dir = await Deno.makeTempDir({ prefix });
  const applied: { name: string; e: AppliedEvent; at: number }[] = [];
  const logs: string[] = [];
  const swarm = await Swarm.create({
    dir,
    windowMs: 4_000,
    startDelayMs: 12_000,
    backend: "cpu",
    validators: 3,
    gauntlet: { assignBatches: 1 }, // the least scoring work: 5 processes share 2 cores
    genesis: {
      sparseloco: { H: 2 },
      data: { batch: 2 },
      checkpointInterval: 3,
      quorum: { votes: 2, fallbackMs },
      ...(rounds === undefined ? {} : { rounds }),
    },
    onEvent: (name: string, e: RoleEvent) => {
      if (e.event === "applied") applied.push({ name, e, at: Date.now() });
      if (e.event === "log") logs.push(`${name}: ${e.line}`);
    },
    onStderr: (name, line) => logs.push(`${name} ! ${line}`),
  });
  const ctx = runContext(swarm.genesis);
  const t0 = Date.now(), deadline = t0 + boundMs;
  /** When each wait ended (s since the start, window open then), for a timeout's message. */
  const done: string[] = [];
  const until = async (what: string, cond: () => boolean) => {
    await pollUntil(what, cond, { deadline, logs, tail: 40, context: () => done.join(", ") });
    const at = Date.now();
    done.push(`${what}: ${((at - t0) / 1000).toFixed(1)} s, window ${ctx.clock.windowAt(at)}`);
  };
  const hashOf = (name: string, w: number) =>
    applied.find((a) => a.name === name && a.e.window === w)?.e.modelHash;
  const newest = (name: string) =>
    Math.max(-1, ...applied.filter((a) => a.name === name).map((a) => a.e.window));
  /** Asserts one hash per window over every role that applied it. */
  const oneHashPerWindow = () => {
    const byWindow = new Map<number, Set<string>>();
    for (const a of applied) {
      byWindow.set(a.e.window, (byWindow.get(a.e.window) ?? new Set()).add(a.e.modelHash));
    }
    for (const [w, hashes] of byWindow) assertEquals(hashes.size, 1, `window ${w}: ${[...hashes]}`);
  };
  const close = async () => {
    await swarm.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return { swarm, ctx, applied, logs, until, hashOf, newest, oneHashPerWindow, close, t0 };
}

Deno.test({
  name:
    "swarm with 3 validators survives the next proposer's SIGKILL, a restart and a dishonest validator",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { swarm, ctx, applied, logs, until, hashOf, newest, oneHashPerWindow, close } =
      await harness("webloco-validators-", undefined, FALLBACK_MS, 120_000);
    const validators = swarm.genesis.validators;
    try {
      // The first validator, then everyone else at once (bootstrapping from it).
      await swarm.startValidator(0);
      await Promise.all([
        ...[1, 2].map((i) => swarm.startValidator(i)),
        ...[0, 1].map((i) => swarm.startPeer(i)),
      ]);
      const all = ["validator", "validator-1", "validator-2"];
      await until("a record the validators agree on", () => all.every((n) => newest(n) >= 0));

      // SIGKILL the validator due to propose the window now open.
      const x = ctx.clock.windowAt(Date.now());
      const victim = validators.indexOf(proposerOrder(validators, x)[0]);
      swarm.kill(validatorName(victim), "SIGKILL");
      await swarm.roles.get(validatorName(victim))!.exited;
      const votedBefore = votesOf(validatorName(victim), logs);
      const alive = [...all, "peer-0", "peer-1"].filter((n) => n !== validatorName(victim));
      await until(
        `records ${x}..${x + 1} without ${validatorName(victim)}`,
        () => alive.every((n) => newest(n) >= x + 1),
      );
      const fallback = applied.find((a) => a.name !== validatorName(victim) && a.e.window === x)!;
      assert(fallback !== undefined, `window ${x}, whose proposer was killed, has a record`);
      const late = fallback.at - (ctx.clock.windowEnd(x) + ctx.graceMs);
      // Bounded: the next proposer's turn, its scoring, the votes (a loaded machine is slow).
      const bound = 2 * FALLBACK_MS + swarm.genesis.windowMs;
      assert(late < bound, `record ${x} came ${late} ms after its deadline (bound ${bound})`);

      // Restarted from its data directory, it rejoins on the others' hash.
      await swarm.startValidator(victim);
      const back = applied.length;
      await until(
        `${validatorName(victim)} applying a record again`,
        () => applied.slice(back).some((a) => a.name === validatorName(victim)),
      );
      const rejoined = applied.slice(back).find((a) => a.name === validatorName(victim))!;
      const restartedAt = logs.length;

      // A dishonest validator takes over another validator's key: the one first in the order
      // soonest once it is up (it proposes at its turn, from the head it saw last).
      const from = ctx.clock.windowAt(Date.now() + 8_000);
      const taken = [1, 2].map((d) => (victim + d) % 3)
        .map((i) => ({ i, w: from + ((i - from) % 3 + 3) % 3 }))
        .sort((a, b) => a.w - b.w)[0].i;
      swarm.kill(validatorName(taken), "SIGKILL");
      await swarm.roles.get(validatorName(taken))!.exited;
      await swarm.startValidator(taken, [DISHONEST]);
      const short = validators[taken].slice(0, 8);
      const honest = [0, 1, 2].filter((i) => i !== taken).map(validatorName);
      const refusal = new RegExp(
        `^(?:${honest.join("|")}): refused the record of window (\\d+) from ${short}: ` +
          `window \\d+: my model hash is`,
      );
      const refused = () => logs.map((l) => refusal.exec(l)).find((m) => m !== null);
      await until("a wrong aggregate refused", () => refused() !== undefined);
      const forged = Number(refused()![1]);
      const peers = ["peer-0", "peer-1"];
      await until(
        `the record of the forged window ${forged}`,
        () => [...honest, ...peers].every((n) => newest(n) >= forged),
      );

      // One hash per window over every honest role, and the peers applied every one of them.
      oneHashPerWindow();
      assertEquals(
        hashOf(validatorName(victim), rejoined.e.window),
        hashOf("peer-0", rejoined.e.window),
      );
      for (const p of peers) {
        assert(hashOf(p, forged) !== undefined, `${p} applied record ${forged}`);
      }
      // Restarted from its data directory, it never voted again in a window it had voted in.
      const votedAfter = votesOf(validatorName(victim), logs.slice(restartedAt));
      assert(votedAfter.size > 0, "the restarted validator votes");
      const twice = [...votedAfter].filter((w) => votedBefore.has(w));
      assertEquals(twice, [], "windows voted in before the kill and after the restart");
    } finally {
      await close();
    }
  },
});

Deno.test({
  name:
    "swarm with 3 validators and outer delay 1: a validator rejoining after a window's votes still votes for its record",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { swarm, ctx, applied, logs, until, hashOf, newest, oneHashPerWindow, close, t0 } =
      // A 3 s fallback: window x stays live (re-announced) 3 fallbacks and a window after its
      // deadline, which a validator restarted on 2 loaded cores needs to come back in.
      await harness("webloco-validators-overlap-", { outerDelay: 1 }, 2 * FALLBACK_MS, 90_000);
    const validators = swarm.genesis.validators;
    try {
      await swarm.startValidator(0);
      await Promise.all([
        ...[1, 2].map((i) => swarm.startValidator(i)),
        ...[0, 1].map((i) => swarm.startPeer(i)),
      ]);
      const all = [0, 1, 2].map(validatorName);
      await until("a record the validators agree on", () => all.every((n) => newest(n) >= 0));

      // Window x's first proposer `a` is left alone at x's deadline: the other two are killed
      // while x is open, once they applied x − 1 (so that record is made).
      let x = -1;
      await until("a window to leave to its first proposer", () => {
        const now = Date.now(), open = ctx.clock.windowAt(now);
        if (all.every((n) => newest(n) >= open - 1) && now < ctx.clock.windowEnd(open) - 1_000) {
          x = open;
        }
        return x >= 0;
      });
      const a = validators.indexOf(proposerOrder(validators, x)[0]);
      const [b, c] = [1, 2].map((d) => (a + d) % 3);
      for (const i of [b, c]) swarm.kill(validatorName(i), "SIGKILL");
      for (const i of [b, c]) await swarm.roles.get(validatorName(i))!.exited;
      const proposed = new RegExp(`^${validatorName(a)}: window ${x} proposed`);
      await until(
        `${validatorName(a)} proposing window ${x} alone`,
        () => logs.some((l) => proposed.test(l)),
      );

      // `b` comes back after the proposal and its first vote went out, and votes for it.
      await swarm.startValidator(b);
      const peers = ["peer-0", "peer-1"];
      await until(
        `records up to ${x} on ${validatorName(a)}, ${validatorName(b)} and the peers`,
        () => [a, b].map(validatorName).concat(peers).every((n) => newest(n) >= x),
      );
      for (const n of [a, b].map(validatorName).concat(peers)) {
        assert(hashOf(n, x) !== undefined, `${n} applied record ${x}, left to ${validatorName(a)}`);
      }
      const short = validators[a].slice(0, 8);
      assert(
        logs.some((l) =>
          l.startsWith(`${validatorName(b)}: voted for the record of window ${x} from ${short}`)
        ),
        `${validatorName(b)} voted for ${validatorName(a)}'s record of window ${x}`,
      );
      assert(
        !logs.some((l) => l.startsWith(`${validatorName(b)}: window ${x} proposed`)),
        `${validatorName(b)} did not split window ${x} with a proposal of its own`,
      );

      // `c` comes back too; two more windows on every role.
      await swarm.startValidator(c);
      const everyone = [...all, ...peers];
      await until(
        `records up to ${x + 2} on every role`,
        () => everyone.every((n) => newest(n) >= x + 2),
      );
      oneHashPerWindow();
      // Every peer applied every record made up to x + 2 (a window may have none: the two
      // validators left can split it, then it is given up, bounded).
      const made = new Set(applied.filter((e) => e.e.window <= x + 2).map((e) => e.e.window));
      for (const p of peers) {
        for (const w of made) assert(hashOf(p, w) !== undefined, `${p} applied record ${w}`);
      }
      assertEquals(hashOf(validatorName(c), x + 2), hashOf("peer-0", x + 2));
      const selected = applied.filter((e) => e.name === "peer-0").map((e) => e.e.contributors);
      console.log(
        `outer delay 1 with a quorum: records of windows ${[...made].sort((p, q) => p - q)}, ` +
          `window ${x} left to ${validatorName(a)}, contributors ${selected}, ` +
          `${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
    } finally {
      await close();
    }
  },
});
