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
 *
 * Held on a loaded machine: what slows there is process start (4–12 s each on 2 cores at load
 * ~19) and scoring, not the window clock. So every wait has a budget in windows of the genesis
 * counted from when its thing can first happen (the roles listening, a record's deadline, a
 * restart), each process start its own budget, and the fallback's delay is measured from when
 * it could act (its turn, counted from when it came to the window) less the scoring it reports,
 * not from the deadline by the test's clock alone.
 */

import { assert, assertEquals } from "../testing/assert.ts";
import { pollSettled, pollUntil, windowsAfter } from "../testing/poll_until.ts";
import type { AppliedEvent, RoleEvent } from "../roles/role_events.ts";
import { Swarm, validatorName } from "./swarm.ts";
import { giveUpAt, proposerOrder } from "../protocol/quorum.ts";
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

/** A process start may take this long (ms) before the test gives up on it: 4–12 s under load. */
const START_MS = 45_000;

/** A swarm of 3 validators (quorum 2) and what a test waits on: events, logs, bounded waits. */
async function harness(
  prefix: string,
  rounds: { outerDelay: 0 | 1 } | undefined,
  fallbackMs: number,
) {
  const dir = await Deno.makeTempDir({ prefix });
  const applied: { name: string; e: AppliedEvent; at: number }[] = [];
  const logs: string[] = [];
  /** When each line of `logs` came (ms since the epoch). */
  const logAt: number[] = [];
  const log = (line: string) => {
    logs.push(line);
    logAt.push(Date.now());
  };
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
      if (e.event === "log") log(`${name}: ${e.line}`);
    },
    onStderr: (name, line) => log(`${name} ! ${line}`),
  });
  const ctx = runContext(swarm.genesis);
  const t0 = Date.now();
  /** When each wait ended (s since the start, window open then), for a timeout's message. */
  const done: string[] = [];
  const options = (deadline: number) => ({
    deadline,
    logs,
    tail: 40,
    context: () => done.join(", "),
  });
  const note = (what: string) => {
    const at = Date.now();
    done.push(`${what}: ${((at - t0) / 1000).toFixed(1)} s, window ${ctx.clock.windowAt(at)}`);
  };
  /** Waits for `cond` until `deadline` (ms since the epoch). */
  const until = async (what: string, cond: () => boolean, deadline: number) => {
    await pollUntil(what, cond, options(deadline));
    note(what);
  };
  /** Waits for a process start (spawn to listening), bounded by {@linkcode START_MS}. */
  const started = async <T>(what: string, start: Promise<T>): Promise<T> => {
    const r = await pollSettled(what, start, options(Date.now() + START_MS));
    note(what);
    return r;
  };
  /** `n` windows after `from` (default now), or after genesis if later. */
  const after = (n: number, from?: number) => windowsAfter(swarm.genesis, n, from);
  /** The first log line matching `re`, with when it came. */
  const lineOf = (re: RegExp) => {
    const i = logs.findIndex((l) => re.test(l));
    return i < 0 ? undefined : { match: re.exec(logs[i])!, at: logAt[i] };
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
  return {
    swarm,
    ctx,
    applied,
    logs,
    until,
    started,
    after,
    lineOf,
    hashOf,
    newest,
    oneHashPerWindow,
    close,
    t0,
  };
}

/** Starts validator 0, then the two others and two peers at once (bootstrapping from it). */
async function startAll(
  swarm: Swarm,
  started: <T>(what: string, start: Promise<T>) => Promise<T>,
): Promise<void> {
  await started("validator listening", swarm.startValidator(0));
  await started(
    "the other validators and the peers listening",
    Promise.all([
      ...[1, 2].map((i) => swarm.startValidator(i)),
      ...[0, 1].map((i) => swarm.startPeer(i)),
    ]),
  );
}

Deno.test({
  name:
    "swarm with 3 validators survives the next proposer's SIGKILL, a restart and a dishonest validator",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const {
      swarm,
      ctx,
      applied,
      logs,
      until,
      started,
      after,
      lineOf,
      hashOf,
      newest,
      oneHashPerWindow,
      close,
    } = await harness("webloco-validators-", undefined, FALLBACK_MS);
    const validators = swarm.genesis.validators;
    const { windowMs } = swarm.genesis;
    /** Window w's deadline: its end plus the grace. */
    const deadlineOf = (w: number) => ctx.clock.windowEnd(w) + ctx.graceMs;
    try {
      await startAll(swarm, started);
      const all = ["validator", "validator-1", "validator-2"];
      await until(
        "a record the validators agree on",
        () => all.every((n) => newest(n) >= 0),
        after(8),
      );

      // SIGKILL the validator due to propose the window now open.
      const x = ctx.clock.windowAt(Date.now());
      const victim = validators.indexOf(proposerOrder(validators, x)[0]);
      const killedAt = Date.now();
      swarm.kill(validatorName(victim), "SIGKILL");
      await swarm.roles.get(validatorName(victim))!.exited;
      const votedBefore = votesOf(validatorName(victim), logs);
      const alive = [...all, "peer-0", "peer-1"].filter((n) => n !== validatorName(victim));
      await until(
        `records ${x}..${x + 1} without ${validatorName(victim)}`,
        () => alive.every((n) => newest(n) >= x + 1),
        after(5, ctx.clock.windowEnd(x + 1)),
      );
      const fallback = applied.find((a) => a.name !== validatorName(victim) && a.e.window === x)!;
      assert(
        fallback !== undefined,
        `window ${x}, whose proposer was killed, has a record; its lines:\n${
          logs.filter((l) => l.includes(`window ${x}`) || l.includes(`window ${x - 1}`)).join("\n")
        }`,
      );
      // Bounded from when the fallback could act, not from the deadline alone: its turn counts
      // from when it came to window x (after the deadline if record x − 1 or its give-up came
      // later), and its scoring is the time it reports (a loaded machine scores slowly).
      const names = all.filter((n) => n !== validatorName(victim)).join("|");
      const proposal = lineOf(new RegExp(`^(${names}): window ${x} proposed`));
      assert(proposal !== undefined, `a fallback proposer proposed window ${x}`);
      const by = proposal.match[1];
      const rank = proposerOrder(validators, x).indexOf(validators[all.indexOf(by)]);
      const finished = [
        ...applied.filter((a) => a.name === by && a.e.window < x).map((a) => a.at),
        lineOf(new RegExp(`^${by}: window ${x - 1}: no record reached a quorum`))?.at ?? 0,
      ];
      const turn = Math.max(deadlineOf(x), killedAt, ...finished) + rank * FALLBACK_MS;
      const scoring = Number(
        lineOf(new RegExp(`^${by}: window ${x} scored: .* (\\d+) ms in all$`))?.match[1] ?? 0,
      );
      const late = fallback.at - turn - scoring;
      // The proposal out, the other's check and vote, the certificate at a node.
      const bound = windowMs + FALLBACK_MS;
      assert(
        late < bound,
        `record ${x} counted ${late} ms after ${by}'s turn (rank ${rank}) and its ${scoring} ms ` +
          `of scoring (bound ${bound}; ${fallback.at - deadlineOf(x)} ms after the deadline)`,
      );
      console.log(
        `window ${x}: proposer killed; ${by} (rank ${rank}) proposed, the record counted ` +
          `${fallback.at - deadlineOf(x)} ms after the deadline, ${turn - deadlineOf(x)} ms ` +
          `of it before ${by}'s turn, ${scoring} ms of scoring`,
      );

      // Restarted from its data directory, it rejoins on the others' hash.
      const back = applied.length;
      const restartAt = Date.now();
      await started(`${validatorName(victim)} listening again`, swarm.startValidator(victim));
      const restartMs = Date.now() - restartAt;
      await until(
        `${validatorName(victim)} applying a record again`,
        () => applied.slice(back).some((a) => a.name === validatorName(victim)),
        after(6),
      );
      const rejoined = applied.slice(back).find((a) => a.name === validatorName(victim))!;
      const restartedAt = logs.length;

      // A dishonest validator takes over another validator's key: the one first in the order
      // soonest once it is up and has seen a record (it proposes at its turn, from the head it
      // saw last), guessing its start takes as long as the restart just did.
      const from = ctx.clock.windowAt(Date.now() + Math.max(8_000, restartMs + windowMs));
      const { i: taken, w: planned } = [1, 2].map((d) => (victim + d) % 3)
        .map((i) => ({ i, w: from + ((i - from) % 3 + 3) % 3 }))
        .sort((a, b) => a.w - b.w)[0];
      swarm.kill(validatorName(taken), "SIGKILL");
      await swarm.roles.get(validatorName(taken))!.exited;
      await started(
        `the dishonest ${validatorName(taken)} listening`,
        swarm.startValidator(taken, [DISHONEST]),
      );
      const short = validators[taken].slice(0, 8);
      const honest = [0, 1, 2].filter((i) => i !== taken).map(validatorName);
      const refusal = new RegExp(
        `^(?:${honest.join("|")}): refused the record of window (\\d+) from ${short}: ` +
          `window \\d+: my model hash is`,
      );
      const refused = () => logs.map((l) => refusal.exec(l)).find((m) => m !== null);
      // At the planned window, or a rotation later if its start missed that turn.
      await until(
        `a wrong aggregate refused (planned in window ${planned})`,
        () => refused() !== undefined,
        after(5, Math.max(ctx.clock.windowEnd(planned), Date.now())),
      );
      const forged = Number(refused()![1]);
      const peers = ["peer-0", "peer-1"];
      await until(
        `the record of the forged window ${forged}`,
        () => [...honest, ...peers].every((n) => newest(n) >= forged),
        after(5, ctx.clock.windowEnd(forged)),
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
    const {
      swarm,
      ctx,
      applied,
      logs,
      until,
      started,
      after,
      hashOf,
      newest,
      oneHashPerWindow,
      close,
      t0,
    } =
      // A 3 s fallback: window x stays live (re-announced) 3 fallbacks and a window after its
      // deadline, which a validator restarted on 2 loaded cores needs to come back in.
      await harness("webloco-validators-overlap-", { outerDelay: 1 }, 2 * FALLBACK_MS);
    const validators = swarm.genesis.validators;
    try {
      await startAll(swarm, started);
      const all = [0, 1, 2].map(validatorName);
      await until(
        "a record the validators agree on",
        () => all.every((n) => newest(n) >= 0),
        after(8),
      );

      // Window x's first proposer `a` is left alone at x's deadline: the other two are killed
      // while x is open, once they applied x − 1 (so that record is made). A window whose
      // record x − 1 comes late leaves no time for that: a later one does (on a loaded machine
      // records come 2–7 s after their deadlines, 4 s windows).
      let x = -1;
      await until(
        "a window to leave to its first proposer",
        () => {
          const now = Date.now(), open = ctx.clock.windowAt(now);
          if (all.every((n) => newest(n) >= open - 1) && now < ctx.clock.windowEnd(open) - 1_000) {
            x = open;
          }
          return x >= 0;
        },
        after(10),
      );
      const a = validators.indexOf(proposerOrder(validators, x)[0]);
      const [b, c] = [1, 2].map((d) => (a + d) % 3);
      for (const i of [b, c]) swarm.kill(validatorName(i), "SIGKILL");
      for (const i of [b, c]) await swarm.roles.get(validatorName(i))!.exited;
      const proposed = new RegExp(`^${validatorName(a)}: window ${x} proposed`);
      await until(
        `${validatorName(a)} proposing window ${x} alone`,
        () => logs.some((l) => proposed.test(l)),
        after(3, ctx.clock.windowEnd(x)),
      );

      // `b` comes back after the proposal and its first vote went out, and votes for it: record
      // x counts before x is given up or never, and the peers apply it within two windows.
      await started(`${validatorName(b)} listening again`, swarm.startValidator(b));
      const peers = ["peer-0", "peer-1"];
      await until(
        `records up to ${x} on ${validatorName(a)}, ${validatorName(b)} and the peers`,
        () => [a, b].map(validatorName).concat(peers).every((n) => newest(n) >= x),
        after(2, giveUpAt(ctx, x)),
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

      // `c` comes back too; two more windows on every role. It may catch up from a checkpoint
      // past x + 2: its hash is compared where a peer has one too.
      const back = applied.length;
      await started(`${validatorName(c)} listening again`, swarm.startValidator(c));
      const everyone = [...all, ...peers];
      const rejoined = () =>
        applied.slice(back).find((e) =>
          e.name === validatorName(c) && hashOf("peer-0", e.e.window) !== undefined
        );
      await until(
        `records up to ${x + 2} on every role, one on ${validatorName(c)} and peer-0 both`,
        () => everyone.every((n) => newest(n) >= x + 2) && rejoined() !== undefined,
        after(6, Math.max(Date.now(), ctx.clock.windowEnd(x + 2))),
      );
      oneHashPerWindow();
      // Every peer applied every record made up to x + 2 (a window may have none: the two
      // validators left can split it, then it is given up, bounded).
      const made = new Set(applied.filter((e) => e.e.window <= x + 2).map((e) => e.e.window));
      for (const p of peers) {
        for (const w of made) assert(hashOf(p, w) !== undefined, `${p} applied record ${w}`);
      }
      const r = rejoined()!;
      assertEquals(r.e.modelHash, hashOf("peer-0", r.e.window), `${validatorName(c)} back`);
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
