/** RMSNorm reference (CPU), same names and argument order as src/kernels/rmsnorm.ts. */
import type { Floats } from "./types.ts";

/**
 * out: (N,C), rstd: (N) saved for backward, x: (N,C), w: (C).
 * y = x · rstd · w, rstd = 1/sqrt(mean(x²) + eps).
 */
export function rmsnormForward(
  out: Floats,
  rstd: Floats,
  x: Floats,
  w: Floats,
  N: number,
  C: number,
  eps: number,
): void {
  for (let i = 0; i < N; i++) {
    const base = i * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[base + c] * x[base + c];
    const r = 1 / Math.sqrt(ss / C + eps);
    rstd[i] = r;
    for (let c = 0; c < C; c++) out[base + c] = x[base + c] * r * w[c];
  }
}

/**
 * dx(N,C) written (=); dw(C) accumulated (+=, summed over rows in order).  dout, x: (N,C), w: (C),
 * rstd: (N) from the forward.  With g = dout·w: dx = rstd·g − x·rstd³·Σ_c(g·x)/C.
 */
export function rmsnormBackward(
  dx: Floats,
  dw: Floats,
  dout: Floats,
  x: Floats,
  w: Floats,
  rstd: Floats,
  N: number,
  C: number,
): void {
  const dwSum = new Float64Array(C);
  for (let i = 0; i < N; i++) {
    const base = i * C, r = rstd[i];
    let gx = 0;
    for (let c = 0; c < C; c++) gx += dout[base + c] * w[c] * x[base + c];
    const k = gx * r * r * r / C;
    for (let c = 0; c < C; c++) {
      dx[base + c] = r * (dout[base + c] * w[c]) - k * x[base + c];
      dwSum[c] += dout[base + c] * x[base + c] * r;
    }
  }
  for (let c = 0; c < C; c++) dw[c] += dwSum[c];
}
