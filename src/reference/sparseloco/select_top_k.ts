/**
 * Per-tile top-k selection by magnitude, deterministic.
 *
 * @module
 */

import type { TileGeometry } from "./tiles.ts";

/**
 * For each tile of `values` (a whole tensor, row-major), the tile-local indices of the `k`
 * entries of largest `|value|`; on equal magnitudes the lower index wins, so the result does not
 * depend on iteration order or engine. Tile `t`'s indices are written, ascending, at
 * `geometry.tileStart(t, k)` of the returned array (`geometry.selectedCount(k)` entries).
 * A tile with `k ≥ tileSize` keeps every entry. NaN ranks below every number (even 0).
 */
export function selectTopK(values: Float32Array, geometry: TileGeometry, k: number): Uint16Array {
  if (!(k >= 1)) throw new RangeError(`selectTopK: k must be ≥ 1, got ${k}`);
  if (values.length !== geometry.numel) {
    throw new RangeError(`selectTopK: ${values.length} values for ${geometry.numel} entries`);
  }
  const out = new Uint16Array(geometry.selectedCount(k));
  const flat = new Int32Array(geometry.fullTileSize);
  const kFull = Math.min(k, geometry.fullTileSize);
  // A min-heap of the best kFull so far; its root is the worst kept entry.
  const heapIdx = new Int32Array(kFull);
  const heapMag = new Float64Array(kFull);
  for (let t = 0; t < geometry.tileCount; t++) {
    const size = geometry.tileFlatIndices(t, flat);
    const kt = Math.min(k, size);
    const start = geometry.tileStart(t, k);
    if (kt === size) {
      for (let i = 0; i < size; i++) out[start + i] = i;
      continue;
    }
    // "a is worse than b": smaller magnitude, or equal magnitude and higher index.
    const worse = (ma: number, ia: number, mb: number, ib: number) =>
      ma < mb || (ma === mb && ia > ib);
    let n = 0;
    for (let i = 0; i < size; i++) {
      const a = Math.abs(values[flat[i]]);
      const m = a === a ? a : -1; // NaN ranks below every number
      if (n < kt) {
        // Sift up.
        let j = n++;
        while (j > 0) {
          const p = (j - 1) >> 1;
          if (!worse(m, i, heapMag[p], heapIdx[p])) break;
          heapMag[j] = heapMag[p];
          heapIdx[j] = heapIdx[p];
          j = p;
        }
        heapMag[j] = m;
        heapIdx[j] = i;
      } else if (m > heapMag[0]) {
        // Equal magnitude never replaces the root: the root has the lower index.
        let j = 0;
        for (;;) {
          const l = 2 * j + 1;
          if (l >= kt) break;
          const r = l + 1;
          const c = r < kt && worse(heapMag[r], heapIdx[r], heapMag[l], heapIdx[l]) ? r : l;
          if (!worse(heapMag[c], heapIdx[c], m, i)) break;
          heapMag[j] = heapMag[c];
          heapIdx[j] = heapIdx[c];
          j = c;
        }
        heapMag[j] = m;
        heapIdx[j] = i;
      }
    }
    const sel = heapIdx.subarray(0, kt).slice().sort();
    out.set(sel, start);
  }
  return out;
}
