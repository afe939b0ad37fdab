import { type GpuRuntime, type GpuTensor, grid1d } from "../gpu/runtime.ts";
import { checkMatmulArgs, type MatmulShape, tiledMatmul } from "./matmul.ts";

/** Threads per workgroup of the cast (override WG); each thread writes one word (two halves). */
const CAST_WG = 256;

/**
 * Whether `matmulF16` reads its operands as WGSL `f16` (shaders/matmul_f16_native.wgsl) rather
 * than unpacking u32 words: only on a device created with the `shader-f16` feature. Both give
 * the same results (each f16 converts to f32 exactly); the native one saves the unpacking.
 */
export function hasShaderF16(rt: GpuRuntime): boolean {
  return rt.device.features.has("shader-f16");
}

function checkPacked(name: string, t: GpuTensor, what: string): void {
  if (t.dtype !== "u32") {
    throw new Error(
      `${name}: ${what} (${t.label}) must hold packed f16 pairs (a u32 tensor), got ${t.dtype}`,
    );
  }
}

/**
 * x (n f32) → out (ceil(n/2) u32 words of f16 pairs, element 2w in the low half of word w), the
 * operand format of `matmulF16`. Saturates past ±65504; rounding as the reference `packF16`
 * (src/reference/f16.ts) on SwiftShader and lavapipe (WGSL lets an adapter round either way).
 */
export function castF16(rt: GpuRuntime, out: GpuTensor, x: GpuTensor, n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`castF16: n must be a positive integer, got ${n}`);
  }
  checkPacked("castF16", out, "out");
  const words = Math.ceil(n / 2);
  if (x.length < n) throw new Error(`castF16: x (${x.label}) has ${x.length} elements, needs ${n}`);
  if (out.length < words) {
    throw new Error(`castF16: out (${out.label}) has ${out.length} words, needs ${words}`);
  }
  rt.dispatch({
    shader: "cast_f16",
    entry: "to_f16",
    constants: { WG: CAST_WG },
    uniforms: [{ u32: n }],
    tensors: [out, x],
    workgroups: grid1d(words, CAST_WG),
  });
}

/**
 * out(M,N) f32 = op(A)·op(B) (or += when accumulate) with A and B stored as packed f16 pairs (see
 * `castF16`), laid out as `MatmulShape` says: half the bytes of the f32 operands, products and
 * sums in f32, the same tiling, split-K and summation order as `matmul` (it is the same WGSL,
 * shaders/matmul_tiled.wgsl, behind f16 loads). Portable (WGSL core unpack2x16float) on every
 * adapter; the `shader-f16` variant where the device has the feature (`hasShaderF16`), which
 * names its own shader and so its own pipelines.
 */
export function matmulF16(
  rt: GpuRuntime,
  out: GpuTensor,
  a: GpuTensor,
  b: GpuTensor,
  shape: MatmulShape,
): void {
  checkMatmulArgs("matmulF16", out, a, b, shape, 2);
  checkPacked("matmulF16", a, "a");
  checkPacked("matmulF16", b, "b");
  if (hasShaderF16(rt)) tiledMatmul(rt, "matmul_f16_native", out, a, b, shape);
  else tiledMatmul(rt, "matmul_f16", out, a, b, shape, { A_F16: 1, B_F16: 1 });
}

/**
 * `matmul` with both operands rounded to f16 (f32 products and sums, f32 out): each operand is
 * either packed f16 pairs (a u32 tensor: an activation its producing kernel wrote as f16, see
 * src/backend/gpu_ops_f16.ts) or f32 (a master weight, a gradient), which shaders/matmul_f16.wgsl
 * rounds on load exactly as `castF16` would. So no cast pass runs, and the result has the bits
 * of `matmulF16` on `castF16`'s output. The training mode with f16 matmul inputs and f32 master
 * weights is this in place of `matmul`.
 */
export function matmulF16Inputs(
  rt: GpuRuntime,
  out: GpuTensor,
  a: GpuTensor,
  b: GpuTensor,
  shape: MatmulShape,
): void {
  const aF16 = a.dtype === "u32", bF16 = b.dtype === "u32";
  checkMatmulArgs("matmulF16Inputs", out, a, b, shape, aF16 ? 2 : 1, bF16 ? 2 : 1);
  if (aF16 && bF16) return matmulF16(rt, out, a, b, shape);
  tiledMatmul(rt, "matmul_f16", out, a, b, shape, { A_F16: aF16 ? 1 : 0, B_F16: bF16 ? 1 : 0 });
}
