import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../testing/assert.ts";
import { cpuOps } from "../backend/cpu_ops.ts";
import { loadRunData } from "../cli/run_data.ts";
import { Sampler } from "../data/sampler.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { applyAggregate } from "../optim/sparseloco/model_round.ts";
import { GAUNTLET_DEFAULTS } from "../protocol/gauntlet_spec.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { dataPeerIndex, initialParams, runContext } from "../protocol/run_context.ts";
import { compressTensor, type QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { evaluationBatches, ModelProbe } from "../roles/model_probe.ts";
import { WindowTrainer } from "../roles/window_trainer.ts";
import { renoisedCopy } from "../testing/attacker.ts";
import { Rng } from "../util/rng.ts";
import { copyVerdict, excess, likeness, triangleRows, windowBaseline } from "./copies.ts";
import { type JudgeContext, judgeWindow, type Submission } from "./gauntlet.ts";
import { PeerBook } from "./peer_book.ts";

const SHAPES = [[128, 192], [64, 64], [192]];

function randomDelta(rng: Rng): Float32Array[] {
  return SHAPES.map((s) => {
    const d = new Float32Array(s.reduce((p, x) => p * x, 1));
    for (let i = 0; i < d.length; i++) d[i] = rng.normal();
    return d;
  });
}

const compress = (deltas: Float32Array[]) =>
  deltas.map((d, i) => compressTensor(d, new Float32Array(d.length), SHAPES[i]) as QuantizedTensor);

Deno.test("likeness of an exact copy is full overlap and cosine 1", () => {
  const a = compress(randomDelta(new Rng(1)));
  const l = likeness(a, a);
  assertAlmostEquals(l.overlap, 1, 1e-12);
  assertAlmostEquals(l.cosine, 1, 1e-9);
});

Deno.test("likeness sees a re-noised copy and not two independent updates", () => {
  const rng = new Rng(2);
  const base = randomDelta(rng);
  const noisy = base.map((d) => d.map((x) => x + 0.3 * rng.normal()));
  const a = compress(base), b = compress(noisy), c = compress(randomDelta(rng));
  const copy = likeness(b, a), other = likeness(c, a);
  // Noise before the top-k moves some indices; what stays is far above the ban threshold 0.6.
  assert(copy.overlap > 0.6 && copy.cosine > 0.5, `re-noised copy: ${JSON.stringify(copy)}`);
  // Same indices, values re-noised after quantization (codes shifted at random): the overlap
  // alone convicts it.
  const recoded = a.map((t) => ({
    ...t,
    codes: t.codes!.map((c) => rng.uniform() < 0.3 ? (c + 1) % 4 : c),
  }));
  const same = likeness(recoded, a);
  assertAlmostEquals(same.overlap, 1, 1e-12);
  assert(same.cosine > 0, `recoded copy: ${JSON.stringify(same)}`);
  // Independent: about k/tile = 64/4096 of the entries coincide, directions are unrelated.
  assert(
    other.overlap < 0.05 && Math.abs(other.cosine) < 0.05,
    `independent: ${JSON.stringify(other)}`,
  );
});

Deno.test("likeness leaves dense tensors out of the overlap and refuses mismatched layouts", () => {
  const rng = new Rng(3);
  const norm = new Float32Array(192).map(() => rng.normal());
  const dense = compressTensor(norm, new Float32Array(192), [192]);
  assertAlmostEquals(likeness([dense], [dense]).overlap, 0, 0);
  const a = compress(randomDelta(rng));
  assertThrows(() => likeness(a, a.slice(1)), RangeError, "3 tensors vs 2");
  assertThrows(() => likeness(a.slice(0, 1), a.slice(1, 2)), RangeError, "tensor 0");
});

/**
 * Real tiny-model updates of `steps` inner steps for `peers` honest peers (genesis of the attack
 * swarm test: H 4, batch 2), window 0 from θ₀ with zero error feedback and window 1 from their
 * aggregate: what a loaded swarm's peers send when their deadline stops them early.
 */
async function honestWindows(steps: number, peers: number) {
  await identityReady();
  const v = KeySigner.fromUri("//Validator");
  const g = localGenesis({
    validators: [v.address],
    genesisTime: 0,
    sparseloco: { H: 4 },
    data: { batch: 2 },
  });
  const ctx = runContext(g);
  const sampler = Sampler.ofRun((await loadRunData(g, "local")).train, g);
  const streams = Array.from(
    { length: peers },
    (_, i) => dataPeerIndex(KeySigner.fromUri(`//copies-test-${i}`).publicKey),
  );
  const trainers = streams.map((s) => new WindowTrainer(ctx, cpuOps(32), sampler, s));
  const probe = new ModelProbe(cpuOps(32), g);
  const nobody = dataPeerIndex(v.publicKey);
  const thetas = [initialParams(ctx)];
  const updates: QuantizedTensor[][][] = [];
  for (let w = 0; w < 2; w++) {
    const u: QuantizedTensor[][] = [];
    for (const t of trainers) {
      let done = 0;
      // A deadline that comes right after the `steps`-th step.
      await t.train(thetas[w], w, 0, () => done++, () => (done < steps ? -Infinity : Infinity));
      u.push(await t.compress());
    }
    updates.push(u);
    const next = Float32Array.from(thetas[w]);
    applyAggregate(next, ctx.tensors, u.map((tensors, i) => ({ peer: `h${i}`, tensors })), {
      alpha: 1,
    });
    thetas.push(next);
  }
  const judgeContext = (w: number, previous: JudgeContext["previous"] = []): JudgeContext => {
    const batches = (peer: number) =>
      evaluationBatches(sampler, 4, w, peer, nobody, GAUNTLET_DEFAULTS.assignBatches, 7);
    const byAddress = new Map(streams.map((s, i) => [HONEST[i], s]));
    return {
      theta: thetas[w],
      layout: ctx.tensors,
      alpha: 1,
      cap: 20,
      probe,
      assigned: (a) => batches(byAddress.get(a) ?? nobody + 1).assigned,
      unassigned: batches(nobody).unassigned,
      seed: 1,
      previous,
    };
  };
  return { updates, judgeContext };
}

/** Built once for the tests below: one inner step each (a loaded swarm's), 3 honest peers. */
let oneStep: ReturnType<typeof honestWindows> | undefined;
const oneStepWorld = () => oneStep ??= honestWindows(1, 3);
const HONEST = ["alice", "bob", "carol"];
/** The fixed thresholds of GAUNTLET.md (the rule before 2026-12-01). */
const FIXED = { ...GAUNTLET_DEFAULTS, copyBaseline: 0 };

Deno.test("windowBaseline is the median of the updates' medians, capped at the prior, the prior below 3 updates", () => {
  const l = (overlap: number, cosine = overlap) => ({ overlap, cosine });
  // One comparison per update: the median of the values.
  const rows = (...ls: { overlap: number; cosine: number }[]) => ls.map((x) => [x]);
  const spec = { ...GAUNTLET_DEFAULTS, copyBaseline: 0.8 };
  assertEquals(windowBaseline(rows(l(0.6), l(1), l(0.7)), spec), l(0.7));
  const even = windowBaseline(rows(l(0.2, -0.3), l(0.4, -0.1), l(0.1, -0.2), l(1, 1)), spec);
  assertAlmostEquals(even.overlap, 0.3, 1e-12);
  assertEquals(even.cosine, 0);
  // Copies that are most of the window move the median: the cap keeps an exact copy's excess 1.
  assertEquals(windowBaseline(rows(l(1), l(1), l(0.5)), spec), l(0.8));
  assertEquals(windowBaseline(rows(l(0.5), l(0.5)), spec), l(0.8));
  assertEquals(windowBaseline(rows(l(0.5), l(0.6), l(0.7)), FIXED), l(0));
  assertEquals(excess(l(1), l(0.8)), l(1));
  const e = excess(l(0.9, 0.5), l(0.8, 0.5));
  assertAlmostEquals(e.overlap, 0.5, 1e-12);
  assertEquals(e.cosine, 0);
});

Deno.test("windowBaseline: junk keys alike to nobody do not pull honest pairs over the copy thresholds", () => {
  // 7 honest updates alike at 0.7 (one-step updates from θ₀ reach that), 3 junk keys at 0.05 to
  // everyone: junk owns 24 of the 45 pairs, so a median over pairs would be 0.05.
  const n = 10, junk = (u: number) => u >= 7;
  const alike = Array.from({ length: n }, (_, j) =>
    Array.from({ length: j }, (_, i) => {
      const x = junk(i) || junk(j) ? 0.05 : 0.7;
      return { overlap: x, cosine: x };
    }));
  const honest = alike[1][0];
  const pairMedian = windowBaseline(alike.flat().map((l) => [l]), GAUNTLET_DEFAULTS);
  assertEquals(copyVerdict(honest, pairMedian, GAUNTLET_DEFAULTS), "ban");
  const base = windowBaseline(triangleRows(alike), GAUNTLET_DEFAULTS);
  assertAlmostEquals(base.overlap, 0.7, 1e-12);
  assertEquals(copyVerdict(honest, base, GAUNTLET_DEFAULTS), "none");
  // A copy is still a copy over that baseline.
  assertEquals(copyVerdict({ overlap: 1, cosine: 1 }, base, GAUNTLET_DEFAULTS), "ban");
});

Deno.test("copy rule: one-step honest updates from θ₀ reach the fixed ban threshold, not their window's baseline", async () => {
  const { updates } = await oneStepWorld();
  const u = updates[0];
  const pairs = [likeness(u[1], u[0]), likeness(u[2], u[0]), likeness(u[2], u[1])];
  const text = JSON.stringify(pairs);
  const rows = triangleRows([[], [pairs[0]], [pairs[1], pairs[2]]]);
  // Measured: overlap 0.62–0.69, cosine ≈ 0.6 (bench/copy_likeness.json, H 4 / batch 2, 1 step).
  assert(
    pairs.some((l) => copyVerdict(l, windowBaseline(rows, FIXED), FIXED) === "ban"),
    `old rule: ${text}`,
  );
  const base = windowBaseline(rows, GAUNTLET_DEFAULTS);
  for (const l of pairs) {
    assertEquals(
      copyVerdict(l, base, GAUNTLET_DEFAULTS),
      "none",
      `${text} over ${JSON.stringify(base)}`,
    );
  }
  // A window of two updates has no baseline of its own: the prior stands in.
  for (const l of pairs) {
    assertEquals(
      copyVerdict(l, windowBaseline([[l], [l]], GAUNTLET_DEFAULTS), GAUNTLET_DEFAULTS),
      "none",
      text,
    );
  }
});

Deno.test("judgeWindow bans exact, re-noised and stale copies of one-step honest updates, and no honest peer", async () => {
  const { updates, judgeContext } = await oneStepWorld();
  const honest = (w: number): Submission[] =>
    HONEST.map((address, i) => ({ address, arrival: i, tensors: updates[w][i] }));
  // The rule before: an honest peer banned as a copy of another in window 0.
  const old = await judgeWindow(0, honest(0), new PeerBook(FIXED), FIXED, judgeContext(0));
  assert(
    [...old.leftOut.values()].some((x) => x.code === "copy"),
    "the fixed thresholds ban an honest peer",
  );

  const book = new PeerBook(GAUNTLET_DEFAULTS);
  const w0: Submission[] = [
    ...honest(0),
    { address: "copy", arrival: 3, tensors: updates[0][0] },
    { address: "renoised", arrival: 4, tensors: renoisedCopy(updates[0][1], new Rng(5)) },
  ];
  const j0 = await judgeWindow(0, w0, book, GAUNTLET_DEFAULTS, judgeContext(0));
  const why = (j: typeof j0, a: string) => `${a}: ${j.leftOut.get(a)?.text}`;
  assertEquals(
    j0.selected.toSorted(),
    HONEST,
    [...j0.leftOut.keys()].map((a) => why(j0, a)).join("; "),
  );
  assertEquals(j0.leftOut.get("copy")?.other, "alice", why(j0, "copy"));
  assertEquals(j0.leftOut.get("renoised")?.other, "bob", why(j0, "renoised"));
  assert(j0.leftOut.get("renoised")!.text.includes("copy of bob"), why(j0, "renoised"));

  // Window 1: "stale" re-sends alice's update of window 0.
  const previous = w0.map((s) => ({ address: s.address, tensors: s.tensors! }));
  const w1 = [...honest(1), { address: "stale", arrival: 3, tensors: updates[0][0] }];
  const j1 = await judgeWindow(1, w1, book, GAUNTLET_DEFAULTS, judgeContext(1, previous));
  assertEquals(
    j1.selected.toSorted(),
    HONEST,
    [...j1.leftOut.keys()].map((a) => why(j1, a)).join("; "),
  );
  assert(j1.leftOut.get("stale")?.text.includes("replay of alice"), why(j1, "stale"));
  for (const h of HONEST) assertEquals(book.exclusion(h, 1), null, h);

  // Two updates in a window: the prior stands in for the baseline, and still convicts a copy.
  const pair = await judgeWindow(
    0,
    honest(0).slice(0, 2),
    new PeerBook(GAUNTLET_DEFAULTS),
    GAUNTLET_DEFAULTS,
    judgeContext(0),
  );
  assertEquals(
    pair.selected.toSorted(),
    HONEST.slice(0, 2),
    [...pair.leftOut.keys()].map((a) => why(pair, a)).join("; "),
  );
  const copied = await judgeWindow(
    0,
    [honest(0)[0], {
      address: "copy",
      arrival: 3,
      tensors: renoisedCopy(updates[0][0], new Rng(6)),
    }],
    new PeerBook(GAUNTLET_DEFAULTS),
    GAUNTLET_DEFAULTS,
    judgeContext(0),
  );
  assertEquals(copied.leftOut.get("copy")?.code, "copy", why(copied, "copy"));
});
