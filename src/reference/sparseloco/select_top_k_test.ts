import { assertEquals } from "../../testing/assert.ts";
import { Rng } from "../../util/rng.ts";
import { selectTopK } from "./select_top_k.ts";
import { TileGeometry } from "./tiles.ts";

/** Brute force: sort each tile's locals by (|v| desc, index asc), keep k, sort ascending. */
function reference(values: Float32Array, g: TileGeometry, k: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < g.tileCount; t++) {
    const locals = Array.from({ length: g.tileSize(t) }, (_, i) => i);
    const mag = (i: number) => Math.abs(values[g.toFlat(t, i)]);
    locals.sort((a, b) => mag(b) - mag(a) || a - b);
    out.push(...locals.slice(0, Math.min(k, locals.length)).sort((a, b) => a - b));
  }
  return out;
}

Deno.test("selectTopK breaks ties in |value| by the lower index", () => {
  const g = TileGeometry.forShape([8]);
  // |v| = 1 everywhere except one 2: the 2 and then the lowest-indexed ±1s win.
  const v = new Float32Array([1, -1, 1, -1, 2, 1, -1, 1]);
  assertEquals([...selectTopK(v, g, 4)], [0, 1, 2, 4]);
  const zeros = new Float32Array(8);
  zeros[7] = -0;
  assertEquals([...selectTopK(zeros, g, 3)], [0, 1, 2]);
});

Deno.test("selectTopK ties inside 2-D tiles prefer lower tile-local indices", () => {
  const g = TileGeometry.forShape([4, 8], { maxSide: 4 }); // two 4×4 tiles
  const v = new Float32Array(32).fill(3);
  const sel = selectTopK(v, g, 5);
  for (let t = 0; t < g.tileCount; t++) {
    // The first row of the tile, then the first entry of its second row.
    assertEquals([...sel.subarray(t * 5, t * 5 + 5)], [0, 1, 2, 3, 4]);
  }
});

Deno.test("selectTopK matches a brute-force sort on data full of ties", () => {
  const rng = new Rng(7);
  for (const [shape, k] of [[[64, 64], 64], [[100, 48], 64], [[70], 64], [[12, 12], 7]] as const) {
    const g = TileGeometry.forShape(shape);
    const v = new Float32Array(g.numel);
    for (let i = 0; i < v.length; i++) v[i] = rng.int(9) - 4; // many equal magnitudes
    assertEquals([...selectTopK(v, g, k)], reference(v, g, k));
    const w = rng.normals(g.numel);
    assertEquals([...selectTopK(w, g, k)], reference(w, g, k));
  }
});

Deno.test("selectTopK ranks NaN below every number", () => {
  const g = TileGeometry.forShape([6]);
  const v = new Float32Array([NaN, 0, NaN, 1, 0, -0]);
  assertEquals([...selectTopK(v, g, 4)], [1, 3, 4, 5]);
});
