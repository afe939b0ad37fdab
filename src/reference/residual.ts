import type { Floats } from "./types.ts";

/** out = a + b.  a, b, out: (N) */
export function residualForward(out: Floats, a: Floats, b: Floats, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/** dst += scale·src: the residual's backward (scale 1) and gradient accumulation.  (N) */
export function accumulate(dst: Floats, src: Floats, n: number, scale = 1): void {
  for (let i = 0; i < n; i++) dst[i] += scale * src[i];
}
