/**
 * References for the SparseLoCo GPU kernels (src/kernels/sparseloco.ts) that `compressTensor`
 * does inline: error feedback with the pseudo-gradient fused in, and the residual update from
 * codes and a table. Top-k is compared against `selectTopK` itself.
 */
import type { Floats } from "../types.ts";
import { flatIndicesOf } from "./compress.ts";
import type { TileGeometry } from "./tiles.ts";

/**
 * Error feedback with the pseudo-gradient fused in, in place:
 * e = fround(β)·e + (start − end), each step rounded to float32 as `compressTensor` does
 * (`fround(β·e) + Δ` with Δ = `pseudoGradient(start, end)`).
 * start = θ at the round's start, end = θ after the inner steps.  e, start, end: (N)
 */
export function errorFeedback(
  e: Floats,
  start: Floats,
  end: Floats,
  n: number,
  beta: number,
): void {
  const b = Math.fround(beta);
  for (let i = 0; i < n; i++) {
    const delta = Math.fround(start[i] - end[i]);
    e[i] = Math.fround(Math.fround(b * e[i]) + delta);
  }
}

/**
 * e[flat(indices[j])] −= table[codes[j]], rounded to float32 once, as `compressTensor` feeds
 * the quantization error back (what was sent leaves e). `indices` is a selection with budget
 * `k` on `geometry` (tile t's run at t·k), `codes` one code per selected entry.
 * e: (N), indices, codes: (M), table: (4)
 */
export function residualFromCodes(
  e: Float32Array,
  geometry: TileGeometry,
  k: number,
  indices: Uint16Array,
  codes: Uint8Array,
  table: Float32Array,
): void {
  const flat = flatIndicesOf(geometry, k, indices);
  if (codes.length !== flat.length) {
    throw new RangeError(`residualFromCodes: ${codes.length} codes for ${flat.length} indices`);
  }
  for (let j = 0; j < flat.length; j++) e[flat[j]] -= table[codes[j]];
}
