/**
 * The pseudo-gradient of a round.
 *
 * @module
 */

/**
 * Δ = θ_start − θ_end, entry by entry, rounded to float32 (the float64 difference of two
 * float32 values rounded once equals float32 subtraction). Writes into `out` if given.
 */
export function pseudoGradient(
  start: Float32Array,
  end: Float32Array,
  out: Float32Array = new Float32Array(start.length),
): Float32Array {
  if (end.length !== start.length || out.length !== start.length) {
    throw new RangeError(
      `pseudoGradient: lengths ${start.length}, ${end.length}, out ${out.length} differ`,
    );
  }
  for (let i = 0; i < start.length; i++) out[i] = start[i] - end[i];
  return out;
}
