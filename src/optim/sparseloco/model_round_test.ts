import { Rng } from "../../util/rng.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { toDense } from "./aggregate.ts";
import { decompress } from "../../reference/sparseloco/compress.ts";
import { applyAggregate } from "./model_round.ts";
import { compressModel, type TensorEntry } from "../../reference/sparseloco/compress_model.ts";
import { pseudoGradient } from "../../reference/sparseloco/pseudo_gradient.ts";

/** A small model: embedding, a matrix with 50×48 tiles, a norm weight with a short chunk. */
const LAYOUT: TensorEntry[] = [
  { name: "embed", offset: 0, shape: [128, 64] },
  { name: "w", offset: 8192, shape: [100, 48] },
  { name: "norm", offset: 8192 + 4800, shape: [70] },
];
const SIZE = 8192 + 4800 + 70;

/** A stand-in for H inner steps: any update of the parameters. */
function innerSteps(theta: Float32Array, rng: Rng, steps: number, lr: number): Float32Array {
  const out = theta.slice();
  for (let s = 0; s < steps; s++) {
    const g = rng.normals(out.length);
    for (let i = 0; i < out.length; i++) out[i] -= lr * g[i];
  }
  return out;
}

Deno.test("applyAggregate: one replica, H = 1, k = all, no quantization, α = 1 gives θ_end", () => {
  const rng = new Rng(21);
  // θ0 in [1, 2) and a small step: θ0 − θ_end is exact in float32 (Sterbenz), so exactly θ_end.
  const theta0 = rng.uniforms(SIZE, 1, 2);
  const thetaEnd = innerSteps(theta0, rng, 1, 1e-3);
  const error = new Float32Array(SIZE);
  const delta = pseudoGradient(theta0, thetaEnd);
  const tensors = compressModel(delta, error, LAYOUT, { k: Infinity, quantize: false });
  const theta = theta0.slice();
  applyAggregate(theta, LAYOUT, [{ peer: "only", tensors }], { alpha: 1 });
  assertEquals(theta, thetaEnd);
  assertEquals(error, new Float32Array(SIZE));

  // Any θ0: equal up to float32 rounding of θ0 − θ_end.
  const g0 = rng.normals(SIZE);
  const gEnd = innerSteps(g0, rng, 1, 1e-2);
  const t2 = compressModel(pseudoGradient(g0, gEnd), new Float32Array(SIZE), LAYOUT, {
    k: Infinity,
    quantize: false,
  });
  const g = g0.slice();
  applyAggregate(g, LAYOUT, [{ peer: "only", tensors: t2 }]);
  for (let i = 0; i < SIZE; i++) {
    const ulp = Math.max(Math.abs(g0[i]), Math.abs(gEnd[i])) * 2 ** -23;
    assert(Math.abs(g[i] - gEnd[i]) <= ulp, `entry ${i}: ${g[i]} vs ${gEnd[i]}`);
  }
});

Deno.test("applyAggregate: R replicas with the same Δ get each one's own update", () => {
  const rng = new Rng(22);
  const theta0 = rng.normals(SIZE);
  const thetaEnd = innerSteps(theta0, rng, 3, 1e-3);
  const delta = pseudoGradient(theta0, thetaEnd);
  const updates = [];
  for (let r = 0; r < 5; r++) {
    // Each replica has its own error buffer; they all start at 0, so they stay equal.
    const tensors = compressModel(delta, new Float32Array(SIZE), LAYOUT);
    updates.push({ peer: `replica-${r}`, tensors });
  }
  const theta = theta0.slice();
  const results = applyAggregate(theta, LAYOUT, updates);
  const own = updates[0].tensors.map(decompress);
  LAYOUT.forEach((e, i) => {
    assertEquals(toDense(results[i], own[i].length), own[i], e.name);
    const expected = theta0.slice(e.offset, e.offset + own[i].length);
    for (let j = 0; j < expected.length; j++) expected[j] -= own[i][j];
    assertEquals(theta.subarray(e.offset, e.offset + own[i].length), expected, e.name);
  });
});

Deno.test("applyAggregate is independent of the order of the updates", () => {
  const rng = new Rng(23);
  const theta0 = rng.normals(SIZE);
  const updates = [];
  for (let p = 0; p < 6; p++) {
    const delta = pseudoGradient(theta0, innerSteps(theta0, rng, 1, 1e-3 * (p + 1)));
    updates.push({ peer: `p${p}`, tensors: compressModel(delta, new Float32Array(SIZE), LAYOUT) });
  }
  const a = theta0.slice();
  applyAggregate(a, LAYOUT, updates);
  const b = theta0.slice();
  applyAggregate(b, LAYOUT, [...updates].reverse());
  assertEquals(new Uint8Array(a.buffer), new Uint8Array(b.buffer));
  assert(a.some((x, i) => x !== theta0[i]), "the step moved θ");
});
