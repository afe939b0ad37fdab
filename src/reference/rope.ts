/** Rotary position embedding, plain TypeScript (Hugging Face LLaMA rotate_half convention). */
import type { Floats } from "./types.ts";

/**
 * The cos/sin table, computed in float64 and stored float32 so every runtime rotates identically:
 * (T, D/2, 2) = [cos, sin] of t·theta^(−2i/D). (reference only; the model uploads it)
 */
export function ropeTable(T: number, D: number, theta: number): Float32Array {
  const half = D / 2;
  const table = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = t * Math.pow(theta, (-2 * i) / D);
      table[2 * (t * half + i)] = Math.cos(angle);
      table[2 * (t * half + i) + 1] = Math.sin(angle);
    }
  }
  return table;
}

// dst = R(sign·angle)·src, pairs (i, i + D/2) of every (b, t, h) row.
function rotate(
  dst: Floats,
  src: Floats,
  table: ArrayLike<number>,
  B: number,
  T: number,
  H: number,
  D: number,
  sign: number,
): void {
  const half = D / 2;
  for (let row = 0; row < B * T * H; row++) {
    const t = Math.floor(row / H) % T;
    for (let i = 0; i < half; i++) {
      const c = table[2 * (t * half + i)], s = sign * table[2 * (t * half + i) + 1];
      const lo = row * D + i, hi = lo + half;
      const x1 = src[lo], x2 = src[hi];
      dst[lo] = x1 * c - x2 * s;
      dst[hi] = x2 * c + x1 * s;
    }
  }
}

/** out = rotate(x).  x, out: (B,T,H,D); table: (T,D/2,2). out may not alias x. */
export function ropeForward(
  out: Floats,
  x: Floats,
  table: ArrayLike<number>,
  B: number,
  T: number,
  H: number,
  D: number,
): void {
  rotate(out, x, table, B, T, H, D, 1);
}

/** dx = rotateᵀ(dout) (rotation by −angle).  dout, dx: (B,T,H,D); table: (T,D/2,2). */
export function ropeBackward(
  dx: Floats,
  dout: Floats,
  table: ArrayLike<number>,
  B: number,
  T: number,
  H: number,
  D: number,
): void {
  rotate(dx, dout, table, B, T, H, D, -1);
}
