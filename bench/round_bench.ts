/**
 * `deno task bench:rounds`: the network's round costs on this machine — a local swarm
 * (validator + N peers as processes on 127.0.0.1) per size; per round: compute time, idle
 * time (everything that is not inner steps) and its share of the round, bytes up and down
 * per peer, and the validator's scoring time per round (the gauntlet runs between a window's
 * deadline and its record, so a first-come validator would save exactly that much of every
 * round's idle time: the table shows both); then a fresh peer joins and its catch-up time is
 * measured. Writes bench/rounds.json and the table between the rounds markers in README.md.
 *
 *   deno task bench:rounds [--peers 3,8] [--rounds 5] [--window-ms 20000] [--H 200]
 *                          [--backend cpu|auto|dawn|wgpu]
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
    H: { type: "string", default: "200" },
    backend: { type: "string", default: "cpu" },
  },
  strict: true,
}).values;
const sizes = args.peers!.split(",").map(Number);
const rounds = Number(args.rounds), windowMs = Number(args["window-ms"]), H = Number(args.H);

interface SizeResult {
  peers: number;
  rounds: number;
  computeMs: number;
  idleMs: number;
  applyMs: number;
  idleShare: number;
  /** The validator's mean scoring time per round (from its "window N scored" lines). */
  scoringMs: number;
  /** The idle share without the scoring time: what first-come selection would give. */
  idleShareFirstCome: number;
  stepsPerRound: number;
  bytesUpPerPeer: number;
  bytesDownPerPeer: number;
  contributorsPerRound: number;
  catchUpMs: number;
  catchUpRecords: number;
  hashesAgree: boolean;
}

async function measure(n: number): Promise<SizeResult> {
  const events: { name: string; e: RoleEvent }[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  let records = 0;
  const swarm = await Swarm.create({
    dir: `runs/bench-rounds-${n}`,
    windowMs,
    startDelayMs: 10_000 + 1_000 * n,
    backend: args.backend as "cpu",
    genesis: { sparseloco: { H }, data: { batch: 4 }, checkpointInterval: 2 },
    onEvent: (name, e) => {
      events.push({ name, e });
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
    const compute = mean((r) => r.computeMs), idle = mean((r) => r.idleMs);
    return {
      peers: n,
      rounds: rs.length / n,
      computeMs: mean((r) => r.computeMs),
      idleMs: mean((r) => r.idleMs),
      applyMs: mean((r) => r.applyMs),
      idleShare: idle / (compute + idle),
      scoringMs,
      idleShareFirstCome: Math.max(0, idle - scoringMs) / (compute + idle - scoringMs),
      stepsPerRound: mean((r) => r.steps),
      bytesUpPerPeer: mean((r) => r.bytesUp),
      bytesDownPerPeer: mean((r) => r.bytesDown),
      contributorsPerRound: v.reduce((s, x) =>
        s + (x.e as { contributors: number }).contributors, 0) / Math.max(1, v.length),
      catchUpMs: catchUp?.event === "caught-up" ? catchUp.ms : NaN,
      catchUpRecords: catchUp?.event === "caught-up" ? catchUp.records : 0,
      hashesAgree: agree,
    };
  } finally {
    await swarm.stop();
  }
}

const results: SizeResult[] = [];
for (const n of sizes) {
  console.log(
    `swarm of ${n} peers, ${rounds} rounds of ${
      windowMs / 1000
    } s (H ${H}, backend ${args.backend})`,
  );
  const r = await measure(n);
  console.log(JSON.stringify(r));
  results.push(r);
}
const out = { date: new Date().toISOString(), windowMs, H, backend: args.backend, results };
await writeFileAtomic("bench/rounds.json", JSON.stringify(out, null, 2) + "\n");

const s = (ms: number) => (ms / 1000).toFixed(1);
const table = [
  `Local swarm on this machine (${args.backend} backend, window ${
    s(windowMs)
  } s, H ${H}, batch 4, tiny model; ` +
  `rounds after the first; \`deno task bench:rounds\`, ${out.date.slice(0, 10)}):`,
  "",
  "| peers | compute / round | idle / round | idle share | of which fetch + aggregate | of which scoring | idle share first-come (derived) | steps | up / peer | down / peer | contributors | joiner catch-up |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ...results.map((r) =>
    `| ${r.peers} | ${s(r.computeMs)} s | ${s(r.idleMs)} s | ${(100 * r.idleShare).toFixed(1)}% | ${
      s(r.applyMs)
    } s | ${s(r.scoringMs)} s | ${(100 * r.idleShareFirstCome).toFixed(1)}% | ` +
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
