import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { DEFAULT_TILE_OPTIONS, largestDivisorAtMost, TileGeometry } from "./tiles.ts";

Deno.test("largestDivisorAtMost picks the largest divisor not above the bound", () => {
  assertEquals(largestDivisorAtMost(4096, 64), 64);
  assertEquals(largestDivisorAtMost(100, 64), 50);
  assertEquals(largestDivisorAtMost(48, 64), 48);
  assertEquals(largestDivisorAtMost(67, 64), 1); // prime above the bound
  assertEquals(largestDivisorAtMost(1, 64), 1);
  assertEquals(largestDivisorAtMost(11008, 64), 64);
});

Deno.test("TileGeometry 256×256 is 16 tiles of 64×64", () => {
  const g = TileGeometry.forShape([256, 256]);
  assertEquals([g.tileRows, g.tileCols, g.gridRows, g.gridCols], [64, 64, 4, 4]);
  assertEquals([g.tileCount, g.fullTileSize, g.numel], [16, 4096, 65536]);
  assertEquals(g.tileK(5, 64), 64);
  assertEquals(g.selectedCount(64), 16 * 64);
  assertEquals(g.selectedCount(Infinity), 65536);
});

Deno.test("TileGeometry 100×48 uses 50×48 tiles", () => {
  const g = TileGeometry.forShape([100, 48]);
  assertEquals([g.tileRows, g.tileCols, g.gridRows, g.gridCols], [50, 48, 2, 1]);
  assertEquals(g.fullTileSize, 2400);
  assertEquals(g.selectedCount(64), 128);
});

Deno.test("TileGeometry 1×64 is one 1×64 tile, kept whole at k = 64", () => {
  const g = TileGeometry.forShape([1, 64]);
  assertEquals([g.oneD, g.tileRows, g.tileCols, g.tileCount], [false, 1, 64, 1]);
  assertEquals(g.tileK(0, 64), 64);
});

Deno.test("TileGeometry 1-D 70 is a chunk of 64 and a short chunk of 6", () => {
  const g = TileGeometry.forShape([70]);
  assertEquals([g.oneD, g.tileRows, g.tileCols, g.tileCount], [true, 1, 64, 2]);
  assertEquals([g.tileSize(0), g.tileSize(1)], [64, 6]);
  assertEquals([g.tileK(0, 64), g.tileK(1, 64)], [64, 6]);
  assertEquals(g.selectedCount(64), 70);
  assertEquals([g.tileStart(0, 64), g.tileStart(1, 64)], [0, 64]);
  assertEquals(g.fromFlat(69), { tile: 1, local: 5 });
  assertEquals(g.toFlat(1, 5), 69);
});

Deno.test("TileGeometry views rank-3 tensors as a matrix of the leading dims × the last", () => {
  const g = TileGeometry.forShape([4, 32, 96]);
  assertEquals([g.rows, g.cols, g.tileRows, g.tileCols], [128, 96, 64, 48]);
});

Deno.test("TileGeometry toFlat and fromFlat are inverse and cover every entry once", () => {
  for (
    const [shape, opts] of [
      [[256, 256], {}],
      [[100, 48], {}],
      [[6, 10], { maxSide: 4 }],
      [[70], {}],
      [[5], { chunk: 2 }],
      [[3, 2, 6], { maxSide: 3 }],
    ] as const
  ) {
    const g = TileGeometry.forShape(shape, opts);
    const seen = new Uint8Array(g.numel);
    const flat = new Int32Array(g.fullTileSize);
    for (let t = 0; t < g.tileCount; t++) {
      const size = g.tileFlatIndices(t, flat);
      assertEquals(size, g.tileSize(t));
      let prev = -1;
      for (let local = 0; local < size; local++) {
        const f = g.toFlat(t, local);
        assertEquals(f, flat[local]);
        assertEquals(g.fromFlat(f), { tile: t, local });
        // Local order follows flat order, so "lower index" means the same thing in both.
        assertEquals(f > prev, true);
        prev = f;
        seen[f]++;
      }
    }
    assertEquals(seen.every((c) => c === 1), true, `shape ${shape}`);
  }
});

Deno.test("TileGeometry rejects inconsistent explicit tiles", () => {
  assertThrows(() => new TileGeometry([100, 48], 64, 48), RangeError);
  assertThrows(() => new TileGeometry([70], 2, 64), RangeError);
  assertThrows(() => new TileGeometry([0, 4], 1, 1), RangeError);
  assertThrows(() => new TileGeometry([], 1, 1), RangeError);
  assertThrows(() => new TileGeometry([512, 512], 512, 512), RangeError); // tile too large
});

Deno.test("TileGeometry defaults are the reference run's", () => {
  assertEquals({ ...DEFAULT_TILE_OPTIONS }, { maxSide: 64, chunk: 64 });
});
