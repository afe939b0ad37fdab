/**
 * The GPU backend with f16 matmul inputs: every matmul, forward and backward, rounds both
 * operands to f16 and multiplies and sums them in f32 (`matmulF16Inputs`); everything else is
 * `gpuOps`. The parameters, gradients, AdamW moments, the outer step and the model hash stay f32:
 * the weights are f32 master copies, rounded to f16 as the matmul loads them (no cast pass, no
 * second copy). Opt-in: nothing selects it by default, so runs and their hashes are unchanged.
 *
 * `activations: true` also stores the activations the matmuls read as packed f16 (half the
 * bytes), written so by the kernels that produce them: the RMSNorm outputs (`l*.xn`, `l*.xn2`,
 * `xfn`), the attention output (`l*.att`) and the SwiGLU output (`l*.h`) of src/model/llama.ts.
 * The backend recognises them by the labels the model allocates them under and makes them u32
 * tensors; each launcher writes packed f16 when its output is a u32 tensor (rmsnormForward,
 * attentionForward, swigluForward), attentionBackward reads the packed attention output, and
 * `matmulF16Inputs` reads packed operands as they are. The values the matmuls see are the same
 * f16 values as without `activations` (rounded once, on store instead of on load); only the
 * attention backward's delta = dout·out changes, to the f16 out. src/model/memory.ts counts it.
 */
import type { Ops } from "./ops.ts";
import type { GpuRuntime, GpuTensor } from "../gpu/runtime.ts";
import { matmulF16Inputs } from "../kernels/matmul_f16.ts";
import { gpuOps } from "./gpu_ops.ts";

/**
 * Labels (src/model/llama.ts) of the activations stored as packed f16 with `activations`: only
 * matmul inputs, whose every reader takes packed f16.
 */
export const F16_ACTIVATION_LABELS = /^(l\d+\.(xn|xn2|att|h)|xfn)$/;

/** Options of `gpuOpsF16`. */
export interface GpuOpsF16Options {
  /** Store the matmuls' input activations as packed f16 (see the module doc). */
  activations?: boolean;
}

/** `gpuOps(rt)` with f16 matmul inputs and f32 accumulation; f16 activations when asked. */
export function gpuOpsF16(
  rt: GpuRuntime,
  { activations = false }: GpuOpsF16Options = {},
): Ops<GpuTensor> {
  const base = gpuOps(rt);
  return {
    ...base,
    name: activations ? "gpu-f16-activations" : "gpu-f16-matmul",
    matmul: (out, a, b, shape) => matmulF16Inputs(rt, out, a, b, shape),
    tensor: (length, label, split) =>
      activations && label !== undefined && F16_ACTIVATION_LABELS.test(label)
        ? rt.tensor(Math.ceil(length / 2), "u32", label)
        : base.tensor(length, label, split),
  };
}
