/** AdamW on the GPU: one elementwise kernel updating params, m and v in place. */
import { type GpuRuntime, type GpuTensor, grid1d } from "../gpu/runtime.ts";
import { adamwConstants, type AdamWParams } from "../reference/adamw.ts";

/** AdamW hyper-parameters for one step (defined with the reference, which the CPU trainer uses). */
export type { AdamWParams };

/** What the launcher and shaders/adamw.wgsl share (its overrides): threads per workgroup. */
const CONSTANTS = { WG: 256 };

/**
 * One AdamW step over n elements: g = grads·clip[0]; p −= lr·wd·p; m = β1·m + (1−β1)·g;
 * v = β2·v + (1−β2)·g²; p −= lr·(m/(1−β1^step)) / (sqrt(v/(1−β2^step)) + eps).
 * params, grads, m, v: (≥ n); clip: (≥ 1), pass the gradClip output (or a tensor holding 1).
 * The bias corrections are computed in float64 on the CPU and passed as uniforms.
 */
export function adamw(
  rt: GpuRuntime,
  params: GpuTensor,
  grads: GpuTensor,
  m: GpuTensor,
  v: GpuTensor,
  clip: GpuTensor,
  n: number,
  hp: AdamWParams,
): void {
  for (const t of [params, grads, m, v]) {
    if (t.length < n) throw new Error(`adamw: ${t.label} has ${t.length} elements, n = ${n}`);
  }
  const c = adamwConstants(hp);
  rt.dispatch({
    shader: "adamw",
    entry: "update",
    uniforms: [
      { u32: n },
      { f32: c.decay },
      { f32: hp.beta1 },
      { f32: 1 - hp.beta1 },
      { f32: hp.beta2 },
      { f32: 1 - hp.beta2 },
      { f32: c.stepSize },
      { f32: c.invBc2Sqrt },
      { f32: hp.eps },
    ],
    tensors: [params, grads, m, v, clip],
    constants: CONSTANTS,
    workgroups: grid1d(n, CONSTANTS.WG),
  });
}
