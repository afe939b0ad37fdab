/**
 * References of the kernels that write or read packed f16 activations (the f16-activation
 * backend, src/backend/gpu_ops_f16.ts): each is the f32 reference of its kernel with the packed
 * output rounded by `packF16` (`Math.f16round`, saturating) or the packed input read back by
 * `unpackF16`, because that is what the WGSL does: compute in f32, round on store. Names and
 * argument order as the launchers in src/kernels; a `Uint32Array` argument is packed f16 pairs.
 */
import type { Floats } from "./types.ts";
import { matmul, type MatmulShape } from "./matmul.ts";
import { rmsnormForward } from "./rmsnorm.ts";
import { swigluForward } from "./swiglu.ts";
import { attentionBackward, attentionForward } from "./attention.ts";
import { packF16, roundF16, unpackF16 } from "./f16.ts";

/** An operand as the f16 matmul reads it: packed pairs unpacked, f32 values rounded to f16. */
function asF16(x: Floats | Uint32Array, n: number): Float64Array {
  if (x instanceof Uint32Array) return Float64Array.from(unpackF16(x, n));
  return Float64Array.from(x.subarray(0, n), roundF16);
}

/**
 * out(M,N) = op(A)·op(B) with both operands rounded to f16 (`matmulF16Inputs`): each a packed
 * Uint32Array or f32 values; products and sums in f64.
 */
export function matmulF16Inputs(
  out: Floats,
  a: Floats | Uint32Array,
  b: Floats | Uint32Array,
  shape: MatmulShape,
): void {
  const { M, N, K } = shape;
  matmul(out, asF16(a, M * K), asF16(b, K * N), shape);
}

/** `rmsnormForward` with out16 (N·C/2 words) the f32 output rounded to f16. */
export function rmsnormForwardF16(
  out16: Uint32Array,
  rstd: Floats,
  x: Floats,
  w: Floats,
  N: number,
  C: number,
  eps: number,
): void {
  const out = new Float32Array(N * C);
  rmsnormForward(out, rstd, x, w, N, C, eps);
  out16.set(packF16(out));
}

/** `swigluForward` with out16 (ceil(n/2) words) the f32 output rounded to f16. */
export function swigluForwardF16(out16: Uint32Array, gate: Floats, up: Floats, n: number): void {
  const out = new Float32Array(n);
  swigluForward(out, gate, up, n);
  out16.set(packF16(out));
}

/** `attentionForward` with out16 (B·T·NH·D/2 words) the f32 output rounded to f16. */
export function attentionForwardF16(
  out16: Uint32Array,
  lse: Floats,
  q: Floats,
  k: Floats,
  v: Floats,
  B: number,
  T: number,
  NH: number,
  NKV: number,
  D: number,
): void {
  const out = new Float32Array(B * T * NH * D);
  attentionForward(out, lse, q, k, v, B, T, NH, NKV, D);
  out16.set(packF16(out));
}

/**
 * `attentionBackward` given the packed f16 `out16` of `attentionForwardF16`: delta = dout·out
 * uses those f16 values (the rounding is passed straight through: its derivative is 0 almost
 * everywhere, so the gradient is the unrounded one with out perturbed by < 2⁻¹¹ relative).
 */
export function attentionBackwardF16(
  dq: Floats,
  dk: Floats,
  dv: Floats,
  dout: Floats,
  q: Floats,
  k: Floats,
  v: Floats,
  out16: Uint32Array,
  lse: Floats,
  B: number,
  T: number,
  NH: number,
  NKV: number,
  D: number,
): void {
  const out = Float64Array.from(unpackF16(out16, B * T * NH * D));
  attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, B, T, NH, NKV, D);
}
