/**
 * How alike two peers' updates of the same window are: the size-weighted overlap of their
 * selected index sets (GAUNTLET.md "copying"), and the cosine of their decoded values, which
 * also catches a copy whose values were re-noised (the indices then still overlap, and the
 * direction survives the noise). Dense tensors (every entry kept, e.g. norm weights) say
 * nothing about copying and are left out of the overlap.
 *
 * @module
 */

import { type CompressedTensor, selectedValues } from "../reference/sparseloco/compress.ts";

/** Likeness of update `a` to update `b`. */
export interface Likeness {
  /** Shared selected entries / selected entries, weighted by tensor size, in [0, 1]. */
  overlap: number;
  /** Cosine of the two decoded updates over all entries, in [−1, 1] (0 when one is zero). */
  cosine: number;
}

/**
 * Compares two decoded updates of one layout (`a.length === b.length`, tensor i of each with
 * the same shape and tiling). Throws `RangeError` when they do not line up.
 */
export function likeness(a: readonly CompressedTensor[], b: readonly CompressedTensor[]): Likeness {
  if (a.length !== b.length) throw new RangeError(`likeness: ${a.length} tensors vs ${b.length}`);
  let shared = 0, weight = 0, dot = 0, na = 0, nb = 0;
  for (let t = 0; t < a.length; t++) {
    const x = a[t], y = b[t];
    if (
      x.shape.join("x") !== y.shape.join("x") || x.tileRows !== y.tileRows ||
      x.tileCols !== y.tileCols || x.k !== y.k || x.indices.length !== y.indices.length
    ) {
      throw new RangeError(`likeness: tensor ${t} differs in shape or tiling`);
    }
    const vx = selectedValues(x), vy = selectedValues(y);
    for (let i = 0; i < vx.length; i++) na += vx[i] * vx[i];
    for (let i = 0; i < vy.length; i++) nb += vy[i] * vy[i];
    // Both runs of a tile hold the same count of ascending tile-local indices: merge them.
    const run = Math.min(x.k, x.tileRows * x.tileCols);
    const dense = x.k >= x.tileRows * x.tileCols;
    let common = 0;
    for (let start = 0; start < x.indices.length; start += run) {
      const end = Math.min(start + run, x.indices.length);
      let i = start, j = start;
      while (i < end && j < end) {
        if (x.indices[i] === y.indices[j]) {
          dot += vx[i] * vy[j];
          common++;
          i++;
          j++;
        } else if (x.indices[i] < y.indices[j]) i++;
        else j++;
      }
    }
    if (!dense && x.indices.length > 0) {
      const numel = x.shape.reduce((p, d) => p * d, 1);
      shared += numel * (common / x.indices.length);
      weight += numel;
    }
  }
  return {
    overlap: weight > 0 ? shared / weight : 0,
    cosine: na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0,
  };
}
