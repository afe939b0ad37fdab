import { Rng } from "../../util/rng.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../../testing/assert.ts";
import {
  compressTensor,
  decompress,
  DEFAULT_COMPRESS_OPTIONS,
  flatIndicesOf,
  geometryOf,
} from "./compress.ts";
import { dequantize2Bit } from "./quantize.ts";

Deno.test("compressTensor defaults are the reference run's", () => {
  const { beta, k, quantize, maxSide, chunk, rangeSigmas } = DEFAULT_COMPRESS_OPTIONS;
  assertEquals([beta, k, quantize, maxSide, chunk, rangeSigmas], [0.95, 64, true, 64, 64, 6]);
});

Deno.test("compressTensor keeps k per tile and feeds back exactly what was not sent", () => {
  const rng = new Rng(1);
  for (const shape of [[256, 256], [100, 48], [70], [1, 64]]) {
    const n = shape.reduce((a, b) => a * b);
    const delta = rng.normals(n, 1e-3);
    const error = rng.normals(n, 1e-3);
    const before = error.slice();
    const t = compressTensor(delta, error, shape);
    const g = geometryOf(t);
    assertEquals(t.indices.length, g.selectedCount(t.k));
    assertEquals(t.codes!.length, t.indices.length);
    if (shape.length === 1 || n === 64) assertEquals(t.indices.length, n); // kept whole
    else assertEquals(t.indices.length, g.tileCount * 64);
    const sent = decompress(t);
    const beta = Math.fround(0.95);
    for (let i = 0; i < n; i++) {
      const e = Math.fround(Math.fround(beta * before[i]) + delta[i]);
      assertEquals(error[i], Math.fround(e - sent[i]), `entry ${i} of [${shape}]`);
    }
  }
});

Deno.test("compressTensor picks the largest |e| of each tile", () => {
  const rng = new Rng(2);
  const delta = rng.normals(128 * 128);
  const error = new Float32Array(delta.length);
  const t = compressTensor(delta, error, [128, 128], { quantize: false, beta: 0 });
  const g = geometryOf(t);
  const flat = flatIndicesOf(g, t.k, t.indices);
  for (let tile = 0; tile < g.tileCount; tile++) {
    const chosen = new Set(Array.from(flat.subarray(tile * 64, tile * 64 + 64)));
    let minChosen = Infinity;
    let maxOther = 0;
    for (let local = 0; local < g.tileSize(tile); local++) {
      const i = g.toFlat(tile, local);
      if (chosen.has(i)) minChosen = Math.min(minChosen, Math.abs(delta[i]));
      else maxOther = Math.max(maxOther, Math.abs(delta[i]));
    }
    assert(minChosen >= maxOther, `tile ${tile}`);
  }
  // Unquantized: the sent values are the entries themselves and e is 0 there.
  assertEquals(t.values, new Float32Array(Array.from(flat, (i) => delta[i])));
  for (const i of flat) assertEquals(error[i], 0);
});

Deno.test("compressTensor with k = everything and no quantization sends Δ exactly", () => {
  const rng = new Rng(3);
  const delta = rng.normals(100 * 48);
  const error = new Float32Array(delta.length);
  const t = compressTensor(delta, error, [100, 48], { k: Infinity, quantize: false });
  assertEquals(t.k, 2400);
  assertEquals(decompress(t), delta);
  assertEquals(error, new Float32Array(delta.length));
});

Deno.test("compressTensor quantizes with one table per tensor", () => {
  const rng = new Rng(4);
  const delta = rng.normals(64 * 128);
  const t = compressTensor(delta, new Float32Array(delta.length), [64, 128]);
  assertEquals(t.table!.length, 4);
  assert(t.codes!.every((c) => c <= 3));
  // Table entries are the means of their bins, so they are increasing here.
  for (let c = 1; c < 4; c++) assert(t.table![c] > t.table![c - 1]);
  assertEquals(decompress(t).filter((x) => x !== 0).length, 128);
  assertEquals(
    new Set(dequantize2Bit(t.codes!, t.table!)).size <= 4,
    true,
  );
});

Deno.test("compressTensor error feedback is lossless in the long run (β = 1)", () => {
  // Σ sent + final e = Σ Δ exactly in real arithmetic when β = 1; float32 adds rounding only.
  const rng = new Rng(5);
  const shape = [128, 64];
  const n = 128 * 64;
  const error = new Float32Array(n);
  const sumDelta = new Float64Array(n);
  const sumSent = new Float64Array(n);
  for (let round = 0; round < 60; round++) {
    const delta = rng.normals(n, 1e-2);
    for (let i = 0; i < n; i++) sumDelta[i] += delta[i];
    const sent = decompress(compressTensor(delta, error, shape, { beta: 1 }));
    for (let i = 0; i < n; i++) sumSent[i] += sent[i];
  }
  let num = 0;
  let den = 0;
  let sentNorm = 0;
  for (let i = 0; i < n; i++) {
    const d = sumSent[i] + error[i] - sumDelta[i];
    num += d * d;
    den += sumDelta[i] * sumDelta[i];
    sentNorm += sumSent[i] * sumSent[i];
  }
  assert(Math.sqrt(num / den) < 1e-5, `relative error ${Math.sqrt(num / den)}`);
  assert(sentNorm > 0.1 * den, "a meaningful part was sent");
});

Deno.test("compressTensor error feedback with β < 1 loses exactly the decayed part", () => {
  // e_t = β·e_{t−1} + Δ_t − s_t  ⇒  Σ s + e_T = Σ Δ − (1 − β)·Σ e_{t−1}.
  const rng = new Rng(6);
  const n = 64 * 64;
  const beta = 0.95;
  const error = new Float32Array(n);
  const lhs = new Float64Array(n);
  const rhs = new Float64Array(n);
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < n; i++) rhs[i] -= (1 - Math.fround(beta)) * error[i];
    const delta = rng.normals(n, 1e-2);
    for (let i = 0; i < n; i++) rhs[i] += delta[i];
    const sent = decompress(compressTensor(delta, error, [64, 64], { beta }));
    for (let i = 0; i < n; i++) lhs[i] += sent[i];
  }
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(lhs[i] + error[i] - rhs[i]));
  assertAlmostEquals(worst, 0, 1e-6);
});

Deno.test("compressTensor refuses bad sizes, bad k and non-finite values", () => {
  const z = new Float32Array(16);
  assertThrows(() => compressTensor(z, new Float32Array(15), [4, 4]), RangeError);
  assertThrows(() => compressTensor(z, z.slice(), [4, 4], { k: 0 }), RangeError);
  assertThrows(() => compressTensor(z, z.slice(), [4, 4], { k: 2.5 }), RangeError);
  const bad = z.slice();
  bad[3] = NaN;
  assertThrows(() => compressTensor(bad, z.slice(), [4, 4]), RangeError, "non-finite");
});

Deno.test("decompress refuses malformed selections", () => {
  const t = compressTensor(new Rng(8).normals(64), new Float32Array(64), [8, 8], { k: 4 });
  const dup = { ...t, indices: t.indices.slice() };
  dup.indices[1] = dup.indices[0];
  assertThrows(() => decompress(dup), RangeError);
  assertThrows(() => decompress({ ...t, indices: t.indices.subarray(1) }), RangeError);
  const far = { ...t, indices: t.indices.slice() };
  far.indices[3] = 64;
  assertThrows(() => decompress(far), RangeError);
});
