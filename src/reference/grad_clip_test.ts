import { assertAlmostEquals, assertEquals } from "../testing/assert.ts";
import { gradClip } from "./grad_clip.ts";
import { Rng } from "../util/rng.ts";

function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

Deno.test("gradClip keeps scale 1 below the threshold", () => {
  const g = new Rng(1).normals(100, 0.05); // norm ≈ 0.5
  const out = new Float32Array(2);
  gradClip(out, g, 100, 1);
  assertEquals(out[0], 1);
  assertAlmostEquals(out[1], norm(g), 1e-6);
});

Deno.test("gradClip rescales exactly to maxNorm above the threshold", () => {
  const g = new Rng(2).normals(1000, 1); // norm ≈ 31.6
  const out = new Float64Array(2);
  gradClip(out, g, 1000, 1);
  assertAlmostEquals(out[1], norm(g), 1e-5);
  const clipped = Float64Array.from(g, (x) => x * out[0]);
  // The 1e-6 in the denominator and float32 rounding of the scale: ≈ 1e-7 relative.
  assertAlmostEquals(norm(clipped), 1, 2e-7);
});

Deno.test("gradClip on one element gives |g|", () => {
  const out = new Float64Array(2);
  gradClip(out, new Float64Array([-3]), 1, 1);
  assertEquals(out[1], 3);
  assertEquals(out[0], Math.fround(1 / (3 + 1e-6)));
});

Deno.test("gradClip on 70001 equal elements gives c·sqrt(n)", () => {
  const n = 70001;
  const out = new Float32Array(2);
  gradClip(out, new Float32Array(n).fill(0.5), n, 100);
  assertEquals(out[1], Math.fround(0.5 * Math.sqrt(n)));
  assertEquals(out[0], Math.fround(100 / (0.5 * Math.sqrt(n) + 1e-6)));
});

Deno.test("gradClip only reads the first n elements and rounds to float32", () => {
  const out = new Float64Array(2);
  gradClip(out, new Float64Array([0.1, 0.2, 1e6]), 2, 0.1);
  assertEquals(out[1], Math.fround(Math.sqrt(0.05)));
  assertEquals(out[0], Math.fround(0.1 / (Math.sqrt(0.05) + 1e-6)));
});

Deno.test("gradClip of zero gradients keeps scale 1", () => {
  const out = new Float32Array(2);
  gradClip(out, new Float32Array(5), 5, 1);
  assertEquals([...out], [1, 0]);
});
