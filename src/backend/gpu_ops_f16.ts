/**
 * The GPU backend with f16 matmul inputs: every matmul, forward and backward, rounds both
 * operands to f16 (packed storage, shaders/cast_f16.wgsl) and multiplies and sums them in f32
 * (`matmulF16Inputs`); everything else is `gpuOps`. The parameters, gradients, AdamW moments,
 * the outer step and the model hash stay f32: the weights are f32 master copies cast per matmul.
 * Opt-in (nothing selects it by default, so runs and their hashes are unchanged), and a precision
 * mode, not yet a speed-up: the casts are extra passes, and the bandwidth saving needs the
 * producing kernels to write f16 activations themselves.
 */
import type { Ops } from "./ops.ts";
import type { GpuRuntime, GpuTensor } from "../gpu/runtime.ts";
import { matmulF16Inputs } from "../kernels/matmul_f16.ts";
import { gpuOps } from "./gpu_ops.ts";

/** `gpuOps(rt)` with f16 matmul inputs and f32 accumulation. */
export function gpuOpsF16(rt: GpuRuntime): Ops<GpuTensor> {
  return {
    ...gpuOps(rt),
    name: "gpu-f16-matmul",
    matmul: (out, a, b, shape) => matmulF16Inputs(rt, out, a, b, shape),
  };
}
