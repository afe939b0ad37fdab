/** Global gradient-norm clipping reference, in float64 (as the GPU kernel's ideal result). */
import type { Floats } from "./types.ts";

/**
 * out: (2) = [scale, norm] with norm = sqrt(Σ grads²) over n elements and
 * scale = min(1, maxNorm / (norm + 1e-6)). Computed in float64; both results are rounded to
 * float32 so that a Float64Array `out` holds exactly what a Float32Array would.
 */
export function gradClip(out: Floats, grads: Floats, n: number, maxNorm: number): void {
  let s = 0;
  for (let i = 0; i < n; i++) s += grads[i] * grads[i];
  const norm = Math.sqrt(s);
  out[0] = Math.fround(Math.min(1, maxNorm / (norm + 1e-6)));
  out[1] = Math.fround(norm);
}
