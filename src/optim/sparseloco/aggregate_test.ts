import { Rng } from "../../util/rng.ts";
import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { aggregateTensor, DEFAULT_OUTER_OPTIONS, median, outerStep, toDense } from "./aggregate.ts";
import type { Contribution } from "./aggregate.ts";
import { compressTensor } from "../../reference/sparseloco/compress.ts";
import type { RawTensor } from "../../reference/sparseloco/compress.ts";

/** A raw 1-D tensor of length 8 in one chunk of 8, kept whole (k = 8). */
function raw8(values: number[]): RawTensor {
  return {
    shape: [8],
    tileRows: 1,
    tileCols: 8,
    k: 8,
    indices: new Uint16Array([0, 1, 2, 3, 4, 5, 6, 7]),
    values: new Float32Array(values),
  };
}

/** A raw 4×4 tensor (one 4×4 tile) keeping the given tile-local entries. */
function sparse16(entries: Record<number, number>): RawTensor {
  const idx = Object.keys(entries).map(Number).sort((a, b) => a - b);
  return {
    shape: [4, 4],
    tileRows: 4,
    tileCols: 4,
    k: idx.length,
    indices: new Uint16Array(idx),
    values: new Float32Array(idx.map((i) => entries[i])),
  };
}

Deno.test("median of an even count is the mean of the two middle values", () => {
  assertEquals(median([3, 1, 2]), 2);
  assertEquals(median([4, 1, 3, 2]), 2.5);
  assertEquals(median([5]), 5);
  assertEquals(median([]), 0);
  const v = [9, 1, 5];
  median(v);
  assertEquals(v, [9, 1, 5]);
});

Deno.test("aggregateTensor divides by the peers that selected an entry, not by |S|", () => {
  // Same norm (5) for both: no clipping. Entry 0 only from a, entry 5 only from b, 1 from both.
  const a = sparse16({ 0: 3, 1: 4 });
  const b = sparse16({ 1: 0, 5: -5 });
  const r = aggregateTensor([{ peer: "a", tensor: a }, { peer: "b", tensor: b }]);
  const want = new Float32Array(16);
  want[0] = 3;
  want[1] = 2;
  want[5] = -5;
  assertEquals(toDense(r, 16), want);
  assertEquals([...r.indices], [0, 1, 5]);
  assertEquals([r.norms, r.clipNorm], [[5, 5], 5]);
});

Deno.test("aggregateTensor clips every peer to the median norm", () => {
  // Norms 1, 2, 10 → median 2: the 10 is scaled by 0.2, the others are left alone.
  const p1 = raw8([1, 0, 0, 0, 0, 0, 0, 0]);
  const p2 = raw8([0, 2, 0, 0, 0, 0, 0, 0]);
  const p3 = raw8([6, 8, 0, 0, 0, 0, 0, 0]);
  const r = aggregateTensor([
    { peer: "p3", tensor: p3 },
    { peer: "p1", tensor: p1 },
    { peer: "p2", tensor: p2 },
  ]);
  assertEquals(r.peers, ["p1", "p2", "p3"]);
  assertEquals(r.norms, [1, 2, 10]);
  assertEquals(r.clipNorm, 2);
  const f = Math.fround;
  assertEquals(
    toDense(r, 8),
    new Float32Array([f((1 + 0 + 1.2) / 3), f((0 + 2 + 1.6) / 3), 0, 0, 0, 0, 0, 0]),
  );
  // Even count: median of 1, 2, 10, 20 is 6; only 10 and 20 are clipped.
  const r4 = aggregateTensor([
    { peer: "p1", tensor: p1 },
    { peer: "p2", tensor: p2 },
    { peer: "p3", tensor: p3 },
    { peer: "p4", tensor: raw8([0, 0, 20, 0, 0, 0, 0, 0]) },
  ]);
  assertEquals(r4.clipNorm, 6);
  assertEquals(toDense(r4, 8)[2], 1.5); // raw8 keeps every entry: all 4 peers selected entry 2
  assertEquals(toDense(r4, 8)[0], f((1 + 0 + 3.6 + 0) / 4));
});

Deno.test("aggregateTensor takes a given clip norm and survives zero updates", () => {
  const r = aggregateTensor([{ peer: "x", tensor: raw8([3, 4, 0, 0, 0, 0, 0, 0]) }], {
    clipNorm: 1,
  });
  assertEquals([r.values[0], r.values[1]], [Math.fround(0.6), Math.fround(0.8)]);
  const z = aggregateTensor([
    { peer: "z1", tensor: raw8([0, 0, 0, 0, 0, 0, 0, 0]) },
    { peer: "z2", tensor: raw8([0, 0, 0, 0, 0, 0, 0, 0]) },
  ]);
  assertEquals(toDense(z, 8), new Float32Array(8));
});

Deno.test("aggregateTensor is bit-identical whatever the input order", () => {
  const rng = new Rng(11);
  const contributions: Contribution[] = [];
  for (let p = 0; p < 9; p++) {
    const delta = rng.normals(128 * 128, 0.01 * (1 + p));
    const tensor = compressTensor(delta, new Float32Array(delta.length), [128, 128]);
    contributions.push({ peer: `peer-${(p * 7) % 9}`, tensor });
  }
  const first = toDense(aggregateTensor(contributions), 128 * 128);
  for (let trial = 0; trial < 5; trial++) {
    const shuffled = [...contributions];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    assertEquals(
      new Uint8Array(toDense(aggregateTensor(shuffled), 128 * 128).buffer),
      new Uint8Array(first.buffer),
    );
  }
});

Deno.test("aggregateTensor refuses duplicate peers and mismatched shapes", () => {
  const t = raw8([1, 0, 0, 0, 0, 0, 0, 0]);
  assertThrows(
    () => aggregateTensor([{ peer: "a", tensor: t }, { peer: "a", tensor: t }]),
    RangeError,
    "duplicate",
  );
  assertThrows(
    () => aggregateTensor([{ peer: "a", tensor: t }, { peer: "b", tensor: sparse16({ 0: 1 }) }]),
    RangeError,
    "shape",
  );
  const otherTiles = { ...sparse16({ 0: 1 }), tileRows: 2, k: 1 };
  assertThrows(
    () =>
      aggregateTensor([{ peer: "a", tensor: sparse16({ 0: 1 }) }, {
        peer: "b",
        tensor: otherTiles,
      }]),
    RangeError,
    "tiles",
  );
  assertEquals(aggregateTensor([]).indices.length, 0);
});

Deno.test("outerStep applies θ = θ0 − α·Δ̄ with α = 1 by default", () => {
  assertEquals(DEFAULT_OUTER_OPTIONS.alpha, 1);
  const theta = new Float32Array([1, 2, 3]);
  outerStep(theta, { indices: new Float64Array([0, 2]), values: new Float32Array([0.5, -1]) });
  assertEquals(theta, new Float32Array([0.5, 2, 4]));
  const all = { indices: new Float64Array([0, 1, 2]), values: new Float32Array([1, 1, 1]) };
  outerStep(theta, all, { alpha: 0.4 });
  assertEquals(theta, new Float32Array([0.5 - 0.4, 2 - 0.4, 4 - 0.4]));
  assertThrows(
    () => outerStep(theta, { indices: new Float64Array([3]), values: new Float32Array([1]) }),
    RangeError,
  );
});
