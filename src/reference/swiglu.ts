/** SwiGLU gate reference (CPU), same names and argument order as src/kernels/swiglu.ts. */
import type { Floats } from "./types.ts";

function sigmoid(g: number): number {
  return 1 / (1 + Math.exp(-g));
}

/** out = silu(gate) · up, silu(g) = g·σ(g).  gate, up, out: (n) */
export function swigluForward(out: Floats, gate: Floats, up: Floats, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = g * sigmoid(g) * up[i];
  }
}

/** dgate, dup written (=) from dout.  All (n). */
export function swigluBackward(
  dgate: Floats,
  dup: Floats,
  dout: Floats,
  gate: Floats,
  up: Floats,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i], s = sigmoid(g), d = dout[i];
    // d silu/dg = σ + g·σ·(1 − σ)
    dgate[i] = d * up[i] * s * (1 + g * (1 - s));
    dup[i] = d * g * s;
  }
}
