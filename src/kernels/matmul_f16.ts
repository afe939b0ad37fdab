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
  tiledMatmul(rt, hasShaderF16(rt) ? "matmul_f16_native" : "matmul_f16", out, a, b, shape);
}

/**
 * `matmul` on f32 tensors with its operands rounded to f16 first: casts A and B into pooled
 * packed temporaries and runs `matmulF16`. The training mode with f16 matmul inputs and f32
 * master weights (src/backend/gpu_ops_f16.ts) is this in place of `matmul`.
 */
export function matmulF16Inputs(
  rt: GpuRuntime,
  out: GpuTensor,
  a: GpuTensor,
  b: GpuTensor,
  shape: MatmulShape,
): void {
  checkMatmulArgs("matmulF16Inputs", out, a, b, shape);
  const { M, N, K } = shape;
  const a16 = rt.tensor(Math.ceil(M * K / 2), "u32", "matmul_f16.a");
  const b16 = rt.tensor(Math.ceil(K * N / 2), "u32", "matmul_f16.b");
  castF16(rt, a16, a, M * K);
  castF16(rt, b16, b, K * N);
  matmulF16(rt, out, a16, b16, shape);
  // Safe to recycle now: the queue runs these passes before any later user of the buffers.
  rt.dispose(a16);
  rt.dispose(b16);
}
