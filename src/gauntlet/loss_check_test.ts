import { assert, assertAlmostEquals, assertEquals } from "../testing/assert.ts";
import { compressTensor, type QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { Rng } from "../util/rng.ts";
import { type Batch, lossTest, type LossProbe, medianNorms, tensorNorms } from "./loss_check.ts";

// A model of one 64×64 tensor whose "data" are target points: the loss of a batch is the mean
// squared distance to its target. Training on a batch moves θ towards its target.
const N = 64 * 64;
const layout = [{ name: "w", offset: 0, shape: [64, 64] }];
const rng = new Rng(5);
const point = () => rng.normals(N);
const shared = point(); // what all data have in common
const mix = (own: Float32Array) => shared.map((x, i) => x + own[i]);
const targets = new Map<Uint32Array, Float32Array>();
const batch = (t: Float32Array): Batch => {
  const inputs = new Uint32Array(1);
  targets.set(inputs, t);
  return { inputs, targets: inputs };
};
const probe: LossProbe = {
  loss(params, batches) {
    let s = 0;
    for (const b of batches) {
      const t = targets.get(b.inputs)!;
      for (let i = 0; i < N; i++) s += (params[i] - t[i]) ** 2;
    }
    return Promise.resolve(s / batches.length / N);
  },
};
const mine = mix(point()), random = mix(point()), elsewhere = mix(point());
const assigned = [batch(mine)], unassigned = [batch(random)];
const theta = new Float32Array(N);
/** The compressed update of a peer that trained towards `t` (Δ = θ − moved). */
const updateTowards = (t: Float32Array, scale = 1): QuantizedTensor[] => [
  compressTensor(t.map((x) => -scale * x), new Float32Array(N), [64, 64], { k: 4096 }) as QuantizedTensor,
];

Deno.test("lossTest scores an honest update positive with a +1 indicator", async () => {
  const u = updateTowards(mine);
  const r = await lossTest(probe, theta, layout, u, tensorNorms(u), 0.2, 0.5, assigned, unassigned);
  assert(r.gradScore > 0, `gradScore ${r.gradScore}`);
  assertEquals(r.indicator, 1);
  assert(r.ownDrop > r.gradScore);
});

Deno.test("lossTest: sign-flipped hurts; trained on other data, the indicator is −1", async () => {
  const honest = updateTowards(mine);
  const clip = tensorNorms(honest);
  const flipped = await lossTest(probe, theta, layout, updateTowards(mine, -1), clip, 0.2, 0.5, assigned, unassigned);
  assert(flipped.gradScore < 0, `flipped ${flipped.gradScore}`);
  const other = await lossTest(probe, theta, layout, updateTowards(elsewhere), clip, 0.2, 0.5, assigned, unassigned);
  assertEquals(other.indicator, -1);
});

Deno.test("lossTest clips a scaled update to the median norm, so scaling buys nothing", async () => {
  const honest = updateTowards(mine), scaled = updateTowards(mine, 100);
  const clip = medianNorms([tensorNorms(honest), tensorNorms(honest), tensorNorms(scaled)]);
  assertAlmostEquals(clip[0], tensorNorms(honest)[0], 1e-3 * clip[0]);
  const a = await lossTest(probe, theta, layout, honest, clip, 0.2, 0.5, assigned, unassigned);
  const b = await lossTest(probe, theta, layout, scaled, clip, 0.2, 0.5, assigned, unassigned);
  assertAlmostEquals(b.gradScore, a.gradScore, 1e-3 * Math.abs(a.gradScore));
  assertEquals(theta.every((x) => x === 0), true, "θ is not modified");
});
