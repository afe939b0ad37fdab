/**
 * `deno task bench:rounds`: the network's round costs on this machine — a local swarm
 * (validator + N peers as processes on 127.0.0.1) per size; per round: compute time, idle
 * time (everything that is not inner steps) and its share of the round, bytes up and down
 * per peer, and the validator's scoring time per round (the gauntlet runs between a window's
 * deadline and its record, so a first-come validator would save exactly that much of every
 * round's idle time: the table shows both); then a fresh peer joins and its catch-up time is
 * measured. Each size runs in each round mode (`--outer-delay`, the genesis' `rounds.outerDelay`):
 * 0, peers wait for every record; 1, the one-window-delayed outer step, where scoring runs
 * while the peers train the next window — the table then shows how long before it is needed
 * each record arrived (its lead: the boundary where peers apply it, minus its publication).
 * Idle is everything of a round that is not inner steps (round = one inner loop's start to
 * the next one's). Writes bench/rounds.json and the table between the rounds markers in
 * README.md, and every role's events of a size to runs/bench-rounds-N-dD/events.jsonl (where
 * the idle time went).
 *
 *   deno task bench:rounds [--peers 3,8] [--rounds 5] [--window-ms 20000] [--H 1000]
 *                          [--backend cpu|auto|dawn|wgpu] [--outer-delay 0,1] [--peer-nice 0,10]
 *                          [--train-nice 0,10]
 *
 * `--H`: the inner steps a window may take at most (a peer trains up to H steps or until its
 * deadline); set, as a run's operator would, so that the window binds: at H 200 three peers on
 * a quiet machine took 197 steps and then waited for the window (6.8% idle, 2026-12-01).
 *
 * `--peer-nice`: the OS niceness the peers run with (each value a row; 0: none). On this one
 * machine every role shares the same cores and the peers' training threads never rest, so the
 * validator (on a real network a machine of its own) is starved; niced peers give it their
 * cores whenever it has work: an emulation of separate machines, named as such in the table.
 * `--train-nice`: the same for the peers' training threads alone (workers/thread_priority.ts):
 * every network thread, the peers' too, keeps its priority. Each row also records the load
 * average (1 min) at its start and end.
 */
import { parseArgs } from "node:util";
import { writeFileAtomic } from "../src/util/atomic_write.ts";
import type { RoleEvent, RoundEvent } from "../src/roles/role_events.ts";
import { Swarm } from "../src/cli/swarm.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    peers: { type: "string", default: "3,8" },
    rounds: { type: "string", default: "5" },
    "window-ms": { type: "string", default: "20000" },
    H: { type: "string", default: "1000" },
    backend: { type: "string", default: "cpu" },
    "outer-delay": { type: "string", default: "0,1" },
    "peer-nice": { type: "string", default: "0" },
    "train-nice": { type: "string", default: "0" },
  },
  strict: true,
}).values;
const sizes = args.peers!.split(",").map(Number);
const rounds = Number(args.rounds), windowMs = Number(args["window-ms"]), H = Number(args.H);
const delays = args["outer-delay"]!.split(",").map((d) => {
  if (d !== "0" && d !== "1") throw new Error(`--outer-delay takes 0 and/or 1, got "${d}"`);
  return Number(d) as 0 | 1;
});
const niceList = (flag: "peer-nice" | "train-nice") =>
  args[flag]!.split(",").map((d) => {
    const n = Number(d);
    if (!Number.isInteger(n) || n < 0 || n > 19) {
      throw new Error(`--${flag} takes integers from 0 to 19, got "${d}"`);
    }
    return n;
  });
const nices = niceList("peer-nice"), trainNices = niceList("train-nice");

interface SizeResult {
  peers: number;
  /** The genesis' `rounds.outerDelay`. */
  outerDelay: 0 | 1;
  /** The peers' OS niceness (0: not niced; see `--peer-nice`). */
  peerNice: number;
  /** The peers' training threads' OS niceness (0: not niced; see `--train-nice`). */
  trainNice: number;
  /** The machine's 1-minute load average at the start and at the end of the row. */
  load: [number, number];
  rounds: number;
  computeMs: number;
  idleMs: number;
  /** Of the idle time: inside the inner loop between steps (loading θ, yields, messages). */
  gapMs: number;
  /** Of the idle time: compressing, reading the error feedback, encoding. */
  compressMs: number;
  /** Of the idle time: fetching and aggregating the record (waiting for it at the boundary). */
  applyMs: number;
  /** The rest of the idle time: waiting for a window or a record, the tail no step fitted. */
  waitMs: number;
  idleShare: number;
  /** The validator's mean scoring time per round (from its "window N scored" lines). */
  scoringMs: number;
  /** Updates evaluated and received per round with updates (the same lines). */
  evaluatedPerRound: number;
  updatesPerRound: number;
  /** Updates per round left unevaluated because the window's scoring time ran out. */
  outOfTimePerRound: number;
  /** The idle share without the scoring time: what first-come selection would give. */
  idleShareFirstCome: number;
  stepsPerRound: number;
  bytesUpPerPeer: number;
  bytesDownPerPeer: number;
  contributorsPerRound: number;
  catchUpMs: number;
  catchUpRecords: number;
  hashesAgree: boolean;
  /**
   * Shortest and mean time from the validator's record to the boundary where peers apply it
   * (ms; negative: peers waited). Outer delay 0: the start of the next window, so a record that
   * follows the grace period and scoring is always late.
   */
  recordLeadMinMs: number;
  recordLeadMeanMs: number;
}

async function measure(
  n: number,
  delay: 0 | 1,
  nice: number,
  trainNice: number,
): Promise<SizeResult> {
  const load0 = Deno.loadavg()[0];
  const events: { name: string; e: RoleEvent; at: number }[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  let records = 0;
  const dir = `runs/bench-rounds-${n}-d${delay}${nice > 0 ? `-n${nice}` : ""}${
    trainNice > 0 ? `-t${trainNice}` : ""
  }`;
  const swarm = await Swarm.create({
    dir,
    windowMs,
    startDelayMs: 10_000 + 1_000 * n,
    backend: args.backend as "cpu",
    peerNice: nice,
    trainNice,
    genesis: {
      sparseloco: { H },
      data: { batch: 4 },
      checkpointInterval: 2,
      ...(delay === 1 ? { rounds: { outerDelay: 1 } } : {}),
    },
    onEvent: (name, e) => {
      events.push({ name, e, at: Date.now() });
      if (e.event === "applied" && e.role === "validator") {
        console.log(`  ${n} peers · round ${e.window} · ${e.contributors} contributors`);
        if (++records === rounds + 1) done();
      }
      if (e.event === "caught-up" && name === `peer-${n}`) done();
    },
  });
  try {
    await swarm.startValidator();
    await Promise.all(Array.from({ length: n }, (_, i) => swarm.startPeer(i)));
    await finished;
    let caught!: () => void;
    const joined = new Promise<void>((r) => caught = r);
    done = caught;
    await swarm.startPeer(n);
    await Promise.race([joined, new Promise((r) => setTimeout(r, 120_000))]);
    const catchUp = events.find((x) => x.e.event === "caught-up" && x.name === `peer-${n}`)?.e;
    // The first window is partial (peers start inside it): rounds from the second on.
    const first = Math.min(
      ...events.filter((x) => x.e.event === "round").map((x) => (x.e as RoundEvent).window),
    );
    const rs = events.filter((x) =>
      x.e.event === "round" && (x.e as RoundEvent).window > first && x.name !== `peer-${n}`
    )
      .map((x) => x.e as RoundEvent);
    const mean = (f: (r: RoundEvent) => number) =>
      rs.reduce((s, r) => s + f(r), 0) / Math.max(1, rs.length);
    const v = events.filter((x) => x.e.event === "applied" && x.name === "validator");
    const agree = events.filter((x) => x.e.event === "applied" && x.name !== "validator").every(
      (x) => {
        const e = x.e as Extract<RoleEvent, { event: "applied" }>;
        const ref = v.find((y) => (y.e as typeof e).window === e.window)?.e as typeof e | undefined;
        return ref === undefined || ref.modelHash === e.modelHash;
      },
    );
    const scoring = events.flatMap((x) => {
      const m = x.name === "validator" && x.e.event === "log"
        ? /^window \d+ scored: .* (\d+) ms in all$/.exec(x.e.line)
        : null;
      return m === null ? [] : [Number(m[1])];
    });
    const scoringMs = scoring.reduce((a, b) => a + b, 0) / Math.max(1, scoring.length);
    const validatorLines = events.flatMap((x) =>
      x.name === "validator" && x.e.event === "log" ? [x.e.line] : []
    );
    const counts = validatorLines.flatMap((line) => {
      const m = /^window \d+ scored: (\d+) of (\d+) evaluated/.exec(line);
      return m === null || m[2] === "0" ? [] : [[Number(m[1]), Number(m[2])]];
    });
    const perRound = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, counts.length);
    const outOfTime = validatorLines.filter((line) => line.endsWith("scoring time ran out")).length;
    const compute = mean((r) => r.computeMs), idle = mean((r) => r.idleMs);
    // Record w is applied where window w + 1 + delay opens.
    const leads = v.map((x) =>
      swarm.genesis.genesisTime + ((x.e as { window: number }).window + 1 + delay) * windowMs - x.at
    );
    return {
      peers: n,
      outerDelay: delay,
      peerNice: nice,
      trainNice,
      load: [load0, Deno.loadavg()[0]],
      rounds: rs.length / n,
      computeMs: mean((r) => r.computeMs),
      idleMs: mean((r) => r.idleMs),
      gapMs: mean((r) => r.gapMs ?? 0),
      compressMs: mean((r) => r.compressMs ?? 0),
      applyMs: mean((r) => r.applyMs),
      waitMs: mean((r) => r.idleMs - (r.gapMs ?? 0) - (r.compressMs ?? 0) - r.applyMs),
      idleShare: idle / (compute + idle),
      scoringMs,
      evaluatedPerRound: perRound(counts.map((c) => c[0])),
      updatesPerRound: perRound(counts.map((c) => c[1])),
      outOfTimePerRound: outOfTime / Math.max(1, counts.length),
      idleShareFirstCome: Math.max(0, idle - scoringMs) / (compute + idle - scoringMs),
      stepsPerRound: mean((r) => r.steps),
      bytesUpPerPeer: mean((r) => r.bytesUp),
      bytesDownPerPeer: mean((r) => r.bytesDown),
      contributorsPerRound: v.reduce((s, x) =>
        s + (x.e as { contributors: number }).contributors, 0) / Math.max(1, v.length),
      catchUpMs: catchUp?.event === "caught-up" ? catchUp.ms : NaN,
      catchUpRecords: catchUp?.event === "caught-up" ? catchUp.records : 0,
      hashesAgree: agree,
      recordLeadMinMs: Math.min(...leads),
      recordLeadMeanMs: leads.reduce((a, b) =>
        a + b, 0) / Math.max(1, leads.length),
    };
  } finally {
    await swarm.stop();
    await writeFileAtomic(
      `${dir}/events.jsonl`,
      events.map((x) => JSON.stringify({ name: x.name, at: x.at, ...x.e }) + "\n").join(""),
    );
  }
}

const results: SizeResult[] = [];
for (const delay of delays) {
  for (const nice of nices) {
    for (const trainNice of trainNices) {
      for (const n of sizes) {
        console.log(
          `swarm of ${n} peers, outer delay ${delay}, ${rounds} rounds of ${
            windowMs / 1000
          } s (H ${H}, backend ${args.backend}, peers' nice ${nice}, training threads' ${trainNice})`,
        );
        const r = await measure(n, delay, nice, trainNice);
        console.log(JSON.stringify(r));
        results.push(r);
      }
    }
  }
}
const out = { date: new Date().toISOString(), windowMs, H, backend: args.backend, results };
await writeFileAtomic("bench/rounds.json", JSON.stringify(out, null, 2) + "\n");

const s = (ms: number) => (ms / 1000).toFixed(1);
const niced = (r: SizeResult) =>
  [
    ...(r.peerNice > 0 ? [`peers ${r.peerNice}`] : []),
    ...(r.trainNice > 0 ? [`training ${r.trainNice}`] : []),
  ].join(", ") || "no";
const table = [
  `Local swarm on this machine (${args.backend} backend, window ${
    s(windowMs)
  } s, H ${H}, batch 4, tiny model; ` +
  `rounds after the first; \`deno task bench:rounds\`, ${out.date.slice(0, 10)}; ` +
  "niced: every peer ran under `nice -n N` (all its threads), an emulation of a validator on a machine of its own; " +
  "training niced: only the peers' training threads (`WEBLOCO_TRAIN_NICE`)):",
  "",
  "| outer delay | peers | niced | load (1 min) | compute / round | idle / round | idle share | of which between steps | compress + encode | fetch + aggregate | waiting | scoring / round | evaluated / updates (out of time) | record lead, min (mean) | idle share first-come (derived) | steps | up / peer | down / peer | contributors | joiner catch-up |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ...results.map((r) =>
    `| ${r.outerDelay} | ${r.peers} | ${niced(r)} | ${
      r.load.map((x) => x.toFixed(1)).join("–")
    } | ${s(r.computeMs)} s | ${s(r.idleMs)} s | ${
      (100 * r.idleShare).toFixed(1)
    }% | ${s(r.gapMs)} s | ${s(r.compressMs)} s | ${s(r.applyMs)} s | ${s(r.waitMs)} s | ${
      s(r.scoringMs)
    } s | ${r.evaluatedPerRound.toFixed(1)} / ${r.updatesPerRound.toFixed(1)} (${r.outOfTimePerRound.toFixed(1)}) | ${
      s(r.recordLeadMinMs)
    } s (${s(r.recordLeadMeanMs)} s) | ${
      r.outerDelay === 0 ? `${(100 * r.idleShareFirstCome).toFixed(1)}%` : "—"
    } | ` +
    `${r.stepsPerRound.toFixed(1)} | ${(r.bytesUpPerPeer / 1e3).toFixed(1)} kB | ${
      (r.bytesDownPerPeer / 1e3).toFixed(1)
    } kB | ` +
    `${r.contributorsPerRound.toFixed(1)} | ${s(r.catchUpMs)} s (${r.catchUpRecords} records) |`
  ),
].join("\n");
const readme = await Deno.readTextFile("README.md");
const start = "<!-- rounds:start -->", end = "<!-- rounds:end -->";
if (readme.includes(start) && readme.includes(end)) {
  await writeFileAtomic(
    "README.md",
    readme.slice(0, readme.indexOf(start) + start.length) + "\n" + table + "\n" +
      readme.slice(readme.indexOf(end)),
  );
  console.log("README.md rounds table updated");
}
console.log(table);
