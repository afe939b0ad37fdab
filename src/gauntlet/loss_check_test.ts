import { assert, assertAlmostEquals, assertEquals } from "../testing/assert.ts";
import { lossCheck, medianNorms, tensorNorms } from "./loss_check.ts";
import { layout, N, toyWorld } from "./_toy_model.ts";

const { source, batch, probe, updateTowards: towards } = toyWorld(5);
const mine = source(), random = source(), elsewhere = source();
const assigned = [batch(mine)], unassigned = [batch(random)];
const theta = new Float32Array(N);
const updateTowards = (t: Float32Array, scale = 1) => towards(theta, t, scale);

Deno.test("lossCheck scores an honest update positive with a +1 indicator", async () => {
  const u = updateTowards(mine);
  const r = await lossCheck(probe, theta, layout, u, tensorNorms(u), 0.2, assigned, unassigned);
  assert(r.gradScore > 0, `gradScore ${r.gradScore}`);
  assertEquals(r.indicator, 1);
  assert(r.ownDrop > r.gradScore);
});

Deno.test("lossCheck: sign-flipped hurts; trained on other data, it gains less on the own batch", async () => {
  const honest = updateTowards(mine);
  const clip = tensorNorms(honest);
  const honestCheck = await lossCheck(probe, theta, layout, honest, clip, 0.2, assigned, unassigned);
  const flipped = await lossCheck(probe, theta, layout, updateTowards(mine, -1), clip, 0.2, assigned, unassigned);
  assert(flipped.gradScore < 0, `flipped ${flipped.gradScore}`);
  // Trained elsewhere, it gains on its own batch no more than on any: the reference's
  // indicator is then a coin flip (src/gauntlet/assignment_test.ts has the test that decides).
  const other = await lossCheck(probe, theta, layout, updateTowards(elsewhere), clip, 0.2, assigned, unassigned);
  assert(other.ownDrop < honestCheck.ownDrop, `other ${other.ownDrop} vs honest ${honestCheck.ownDrop}`);
});

Deno.test("lossCheck clips a scaled update to the median norm, so scaling buys nothing", async () => {
  const honest = updateTowards(mine), scaled = updateTowards(mine, 100);
  const clip = medianNorms([tensorNorms(honest), tensorNorms(honest), tensorNorms(scaled)]);
  assertAlmostEquals(clip[0], tensorNorms(honest)[0], 1e-3 * clip[0]);
  const a = await lossCheck(probe, theta, layout, honest, clip, 0.2, assigned, unassigned);
  const b = await lossCheck(probe, theta, layout, scaled, clip, 0.2, assigned, unassigned);
  assertAlmostEquals(b.gradScore, a.gradScore, 1e-3 * Math.abs(a.gradScore));
  assertEquals(theta.every((x) => x === 0), true, "θ is not modified");
});
