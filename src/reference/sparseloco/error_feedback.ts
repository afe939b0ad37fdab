/**
 * References for the SparseLoCo GPU kernels that the CPU optimizer (src/optim/sparseloco) has
 * no separate function for. Top-k, quantization and the whole compression are compared against
 * `selectTopK`, `quantize2Bit` and `compressTensor` themselves.
 */
import type { Floats } from "../types.ts";

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
