import { assert, assertEquals } from "../testing/assert.ts";
import { applyAggregate } from "../optim/sparseloco/model_round.ts";
import { compressTensor, type QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { type JudgeContext, judgeWindow, type Submission } from "./gauntlet.ts";
import { GAUNTLET_DEFAULTS } from "../protocol/gauntlet_spec.ts";
import { PeerBook } from "./peer_book.ts";
import { evaluationOrder, type LeftOut } from "./select.ts";
import type { LossProbe } from "./loss_check.ts";
import { layout, N, toyWorld } from "./_toy_model.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";

const HONEST = ["alice", "bob", "carol"];
// The assignment threshold calibrated for the toy windows below (off by default).
const SPEC = { ...GAUNTLET_DEFAULTS, assignZ: 1 };
const ATTACKS = [
  "garbage", "scaled", "flipped", "zeros", "tiny", "copy", "renoised", "otherdata", "malformed",
] as const;

/** Windows of the toy world with three honest peers and one attacker of each kind. */
async function runWindows(windows: number, spec: typeof SPEC = SPEC, honestPeers = HONEST, attacks: readonly string[] = ATTACKS) {
  const { rng, source, batches, probe, updateTowards } = toyWorld(11);
  const book = new PeerBook(spec);
  const theta = new Float32Array(N);
  const zs: Map<string, number>[] = [];
  const log: {
    w: number;
    selected: string[];
    leftOut: Map<string, LeftOut>;
    credit: string[];
    gradScores: [string, number][];
    scores: [string, number][];
  }[] = [];
  for (let w = 0; w < windows; w++) {
    const data = new Map([...HONEST, ...ATTACKS].map((a) => [a, source()]));
    // A peer's assigned "sequences": samples around its data, which its training moved towards.
    const assigned = new Map([...data].map(([a, d]) => [a, batches(d)]));
    const honest = HONEST.map((a) => updateTowards(theta, data.get(a)!, 0.3, 64));
    const subs: Submission[] = HONEST.map((address, i) => ({ address, arrival: i, tensors: honest[i] }))
      .filter((s) => honestPeers.includes(s.address));
    const q = (d: Float32Array) =>
      [compressTensor(d, new Float32Array(N), [64, 64]) as QuantizedTensor];
    const attack: Record<(typeof ATTACKS)[number], Submission> = {
      garbage: { address: "garbage", arrival: 10, tensors: q(rng.normals(N, 100)) },
      scaled: { address: "scaled", arrival: 11, tensors: updateTowards(theta, data.get("scaled")!, 30, 64) },
      flipped: { address: "flipped", arrival: 12, tensors: updateTowards(theta, data.get("flipped")!, -0.3, 64) },
      zeros: { address: "zeros", arrival: 13, tensors: q(new Float32Array(N)) },
      tiny: { address: "tiny", arrival: 14, tensors: updateTowards(theta, data.get("tiny")!, 0.0003, 64) },
      copy: { address: "copy", arrival: 15, tensors: honest[0] },
      renoised: {
        address: "renoised",
        arrival: 16,
        tensors: q(Float32Array.from({ length: N }, (_, i) => 0.3 * (theta[i] - data.get("alice")![i]) + 0.05 * rng.normal())),
      },
      // Trains, but on data of its own choosing: its assigned batches gain no more than any.
      otherdata: { address: "otherdata", arrival: 17, tensors: updateTowards(theta, source(), 0.3, 64) },
      malformed: { address: "malformed", arrival: 18, problem: "did not decode: truncated" },
    };
    subs.push(...ATTACKS.filter((a) => attacks.includes(a)).map((a) => attack[a]));
    const j = await judgeWindow(w, subs, book, spec, {
      theta,
      layout,
      alpha: 1,
      cap: 20,
      probe,
      assigned: (a) => assigned.get(a)!,
      unassigned: batches(source(), 8),
      seed: 1,
    });
    // The validator runs the assignment test after the record, from θ_w: its z count from the
    // next window's on.
    const z = await j.assignment.run();
    book.assigned(w, z);
    zs.push(z);
    const chosen = subs.filter((s) => j.selected.includes(s.address));
    applyAggregate(theta, layout, chosen.map((s) => ({ peer: s.address, tensors: s.tensors! })), { alpha: 1 });
    log.push({
      w,
      selected: j.selected,
      leftOut: j.leftOut,
      credit: j.credit.map((c) => c.address),
      gradScores: [...j.checks].map(([a, c]) => [a, c.gradScore]),
      scores: [...j.scores],
    });
  }
  return { log, book, zs };
}

Deno.test("judgeWindow keeps every attack of the list out and every honest peer in", async () => {
  const { log, book, zs } = await runWindows(4);
  for (const { w, selected, leftOut, credit } of log) {
    for (const h of HONEST) assert(selected.includes(h), `window ${w}: ${h} left out: ${leftOut.get(h)?.text}`);
    const hostile = selected.filter((a) => !HONEST.includes(a));
    // Training on other data is only visible through the assignment test: out from the fourth
    // window, the first judged after its mean z is past the warm-up (the test runs a window
    // behind).
    const allowed = w < 3 ? ["otherdata"] : [];
    assertEquals(hostile.filter((a) => !allowed.includes(a)), [], `window ${w} selected ${hostile}`);
    assertEquals(credit, selected, "credit goes to the selected, in rank order");
  }
  const first = (a: string) => log[0].leftOut.get(a)?.text ?? "(selected)";
  assert(first("garbage").startsWith("refused: norm"), first("garbage"));
  assert(first("scaled").startsWith("refused: norm"), first("scaled"));
  assert(first("malformed").startsWith("refused: did not decode"), first("malformed"));
  assertEquals(first("flipped"), "negative score");
  assertEquals(first("zeros"), "no gain");
  // An honest direction at a thousandth of the norm: refused for its size.
  assert(/^refused: norm .*× the helpful updates' lower median$/.test(first("tiny")), first("tiny"));
  // Refused or negative three windows running: left out before anything is evaluated.
  const why = (a: string) => log.at(-1)!.leftOut.get(a)?.text ?? "(selected)";
  for (const a of ["garbage", "scaled", "flipped", "zeros"]) {
    assertEquals(why(a), "3 negative evaluations in a row", a);
  }
  assert(why("copy").includes("copy of alice"), why("copy"));
  assertEquals(log.at(-1)!.leftOut.get("copy")?.other, "alice");
  assert(why("renoised").includes("copy of alice"), why("renoised"));
  assert(why("otherdata").startsWith("not shown to train on its assigned data"), why("otherdata"));
  assertEquals(log.at(-1)!.leftOut.get("otherdata")?.code, "not-own-data");
  // Honest z are far above the threshold in every window; the other-data peer's only on average
  // below it (one window's z is noisy, hence the mean over windows).
  for (const z of zs) for (const h of HONEST) assert(z.get(h)! > 3 * SPEC.assignZ, `${h}: z ${z.get(h)}`);
  const otherZ = zs.map((z) => z.get("otherdata")!).filter((z) => z !== undefined);
  assert(otherZ.length === 4 && otherZ.reduce((a, b) => a + b, 0) / otherZ.length < SPEC.assignZ, `otherdata: z ${otherZ}`);
  for (const a of ["flipped", "zeros", "tiny"]) assert(!log.some((l) => l.selected.includes(a)), a);
  for (const h of HONEST) assertEquals(book.entry(h).reason, "", `${h} is not penalised`);
});

/** Every verdict of `runWindows` and the book it leaves, as one digest (numbers in full). */
async function verdictDigest(run: Awaited<ReturnType<typeof runWindows>>): Promise<string> {
  const windows = run.log.map((l) => ({
    ...l,
    leftOut: [...l.leftOut].map(([a, x]) => [a, x.code, x.text]),
    gradScores: [...l.gradScores].sort(([a], [b]) => (a < b ? -1 : 1)),
  }));
  const json = JSON.stringify({ windows, zs: run.zs.map((z) => [...z]), book: run.book.toJSON() });
  return hex(await sha256(new TextEncoder().encode(json)));
}

Deno.test("judgeWindow's verdicts on a fixed input are those of the code before the cheaper loss checks", async () => {
  // Digests of the code before the cheaper loss checks (every loss check's own-data losses, in
  // arrival order), with session 7's copy baseline, assignment cap and sequential admission, on
  // the same windows: scores, verdicts, z, ratings and indicators in the book, bit for bit.
  // Since the indicator count (PeerBook `indicated`, the warm-up's clock) each book entry has
  // one field more; with it taken out the digests were those before it (af6364a0…, 27bf61ab…):
  // every verdict, z and other book field unchanged (here indicated = evaluations throughout).
  assertEquals(
    await verdictDigest(await runWindows(4)),
    "b3a6d5cf9bd30c4e5f56bea24a62a103886262b8bfacf80e2cafc390820811e0",
  );
  const spec = { ...GAUNTLET_DEFAULTS, assignPassZ: 1.645 };
  assertEquals(
    await verdictDigest(await runWindows(3, spec, ["alice"], [])),
    "95f5799329aba1c4fcf24394668fa6d163098b53ba39d5f7277dfcfe6644d193",
  );
});

Deno.test("judgeWindow under the burden of proof: no untested window lands, honest peers from their first test on", async () => {
  const spec = { ...GAUNTLET_DEFAULTS, assignPassZ: 1.645 };
  const { log, zs } = await runWindows(4, spec, HONEST, ["otherdata"]);
  assertEquals(log[0].selected, [], "window 0: everybody on probation");
  assertEquals(log[0].leftOut.get("alice")?.text, "on probation: no assignment test yet");
  for (const { w, selected, leftOut } of log.slice(1)) {
    for (const h of HONEST) assert(selected.includes(h), `window ${w}: ${h} left out: ${leftOut.get(h)?.text}`);
    // The other-data peer lands only where its combined z passes (a 5% false pass per test):
    // here once, on window 0's z of 2.11; then its later z pull the combination under.
    const past = zs.slice(0, w).map((z) => z.get("otherdata")!).slice(-spec.assignWindows);
    const combined = past.reduce((a, b) => a + b, 0) / Math.sqrt(past.length);
    assertEquals(selected.includes("otherdata"), combined >= spec.assignPassZ, `window ${w}: combined z ${combined}`);
  }
  assertEquals(log.map((l) => l.selected.includes("otherdata")), [false, true, false, false]);
  // A lone update is tested too (unpaired), or a one-peer run could never land.
  const lone = await runWindows(3, spec, ["alice"], []);
  assertEquals(lone.log.map((l) => l.selected), [[], ["alice"], ["alice"]]);
});

Deno.test("judgeWindow bans a replay of an update of the window before as stale", async () => {
  const { source, batches, probe, updateTowards } = toyWorld(5);
  const book = new PeerBook(SPEC);
  const theta = new Float32Array(N);
  let previous: NonNullable<JudgeContext["previous"]> = [];
  let last = new Map<string, LeftOut>();
  let selected: string[] = [];
  for (let w = 0; w < 3; w++) {
    const data = new Map(HONEST.map((a) => [a, source()]));
    const subs: Submission[] = HONEST.map((address, i) => ({
      address,
      arrival: i,
      tensors: updateTowards(theta, data.get(address)!, 0.3, 64),
    }));
    // From window 1 on, "stale" re-sends alice's update of the window before.
    const alicePrev = previous.find((p) => p.address === "alice");
    if (alicePrev !== undefined) subs.push({ address: "stale", arrival: 9, tensors: alicePrev.tensors });
    const j = await judgeWindow(w, subs, book, SPEC, {
      theta,
      layout,
      alpha: 1,
      cap: 20,
      probe,
      assigned: (a) => batches(data.get(a) ?? source()),
      unassigned: batches(source(), 8),
      seed: 1,
      previous,
    });
    previous = subs.map((s) => ({ address: s.address, tensors: s.tensors! }));
    last = j.leftOut;
    selected = j.selected;
    if (w === 1) {
      assert(j.leftOut.get("stale")?.text.includes("replay of alice"), j.leftOut.get("stale")?.text);
      assertEquals(j.leftOut.get("stale")?.code, "copy");
    }
  }
  assert(!selected.includes("stale"), "stale stays out");
  assert(last.get("stale")?.text.startsWith("banned until window 21"), last.get("stale")?.text);
  for (const h of HONEST) assert(selected.includes(h), `${h}: ${last.get(h)?.text}`);
});

Deno.test("judgeWindow keeps a hostile half out: three scaled or three garbage keys beside three honest", async () => {
  for (const kind of ["scaled", "garbage"] as const) {
    const { rng, source, batches, probe, updateTowards } = toyWorld(23);
    const book = new PeerBook(SPEC);
    const theta = new Float32Array(N);
    const hostile = ["m1", "m2", "m3"];
    for (let w = 0; w < 4; w++) {
      const data = new Map([...HONEST, ...hostile].map((a) => [a, source()]));
      const q = (d: Float32Array) => [compressTensor(d, new Float32Array(N), [64, 64]) as QuantizedTensor];
      const subs: Submission[] = [
        // Small honest steps, so that 100× the step still helps at first: the case where the
        // scaled half outscored the honest half in a real swarm.
        ...HONEST.map((address, i) => ({ address, arrival: i, tensors: updateTowards(theta, data.get(address)!, 0.003, 64) })),
        // Scaled: a real direction at 100× the norm; garbage: random values, far larger still.
        ...hostile.map((address, i) => ({
          address,
          arrival: 10 + i,
          tensors: kind === "scaled" ? updateTowards(theta, data.get(address)!, 0.3, 64) : q(rng.normals(N, 1)),
        })),
      ];
      const j = await judgeWindow(w, subs, book, SPEC, {
        theta,
        layout,
        alpha: 1,
        cap: 20,
        probe,
        assigned: (a) => batches(data.get(a)!),
        unassigned: batches(source(), 8),
        seed: 1,
      });
      assertEquals([...j.selected].sort(), [...HONEST].sort(), `${kind}, window ${w}: ${[...j.leftOut.values()].map((l) => l.text)}`);
      const chosen = subs.filter((s) => j.selected.includes(s.address));
      applyAggregate(theta, layout, chosen.map((s) => ({ peer: s.address, tensors: s.tensors! })), { alpha: 1 });
    }
  }
});

Deno.test("judgeWindow evaluates what fits its scoring time, samples the rest, never aggregates the unevaluated", async () => {
  const { source, batches, probe: toy, updateTowards } = toyWorld(31);
  const peers = Array.from({ length: 8 }, (_, i) => `p${i}`);
  // A probe whose clock is the test's: every batch of a forward pass takes 10 ms.
  let clock = 0, passes = 0;
  const probe: LossProbe = {
    loss: (params, b) => {
      clock += 10 * b.length;
      passes += b.length;
      return toy.loss(params, b);
    },
    sequenceLosses: (params, b) => toy.sequenceLosses(params, b),
  };
  const book = new PeerBook(SPEC);
  const theta = new Float32Array(N);
  const evaluated = new Set<string>();
  const window = async (w: number, budgetMs: number) => {
    const data = new Map(peers.map((a) => [a, source()]));
    const assigned = new Map([...data].map(([a, d]) => [a, batches(d)]));
    const subs: Submission[] = peers.map((address, i) => ({
      address,
      arrival: i,
      tensors: updateTowards(theta, data.get(address)!, 0.3, 64),
    }));
    const order = evaluationOrder(subs, book, w, SPEC, 1);
    const start = clock;
    const j = await judgeWindow(w, subs, book, SPEC, {
      theta,
      layout,
      alpha: 1,
      cap: 20,
      probe,
      assigned: (a) => assigned.get(a)!,
      unassigned: batches(source(), 8),
      seed: 1,
      budgetMs,
      now: () => clock,
    });
    assert(clock - start <= budgetMs || j.checks.size === 1, `window ${w}: ${clock - start} ms of ${budgetMs}`);
    for (const a of j.selected) assert(j.checks.has(a), `window ${w}: ${a} selected unevaluated`);
    for (const a of j.checks.keys()) evaluated.add(a);
    for (const a of j.outOfTime) {
      assertEquals(j.leftOut.get(a)?.text, "not evaluated: the window's scoring time ran out");
    }
    // What was evaluated is the head of the sample's order, the rest its tail.
    assertEquals([...j.checks.keys(), ...j.outOfTime], order);
    return j;
  };
  // 100 ms: θ_w's unassigned losses (2 passes) and 2 passes per update; an update is started
  // when 1.25× its passes at the measured 10 ms fit: three updates.
  const first = await window(0, 100);
  assertEquals(first.checks.size, 3);
  assertEquals(first.outOfTime.length, 5);
  assertEquals(passes, 2 + 3 * 2, "the own-data losses of tested updates are not measured");
  // The next windows sample by rating bins, from a drawn bin, each the longest unevaluated
  // first (GAUNTLET.md): a key waits n/k windows on average (8 keys, 3 fit); the last one
  // here was first evaluated in window 8, its bin drawn or next to the drawn one.
  let w = 1;
  while (evaluated.size < peers.length && w < 20) await window(w++, 100);
  assertEquals([...evaluated].sort(), peers);
  assertEquals(w, 9, "every key evaluated by window 8");
  // With the cost known from the windows before, a budget too short for one update evaluates
  // none: the record is not held up.
  const none = await window(w, 30);
  assertEquals(none.checks.size, 0);
  assertEquals(none.selected, []);
});
