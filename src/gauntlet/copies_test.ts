import { assert, assertAlmostEquals, assertThrows } from "../testing/assert.ts";
import { compressTensor, type QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { Rng } from "../util/rng.ts";
import { likeness } from "./copies.ts";

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
  const recoded = a.map((t) => ({ ...t, codes: t.codes!.map((c) => rng.uniform() < 0.3 ? (c + 1) % 4 : c) }));
  const same = likeness(recoded, a);
  assertAlmostEquals(same.overlap, 1, 1e-12);
  assert(same.cosine > 0, `recoded copy: ${JSON.stringify(same)}`);
  // Independent: about k/tile = 64/4096 of the entries coincide, directions are unrelated.
  assert(other.overlap < 0.05 && Math.abs(other.cosine) < 0.05, `independent: ${JSON.stringify(other)}`);
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
