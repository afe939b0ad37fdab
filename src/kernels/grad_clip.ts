/**
 * Global gradient-norm clipping on the GPU: the scale stays on the device and AdamW reads it, so
 * a training step never waits on a read-back.
 */
import type { GpuRuntime, GpuTensor } from "../gpu/runtime.ts";

/** What the launcher and shaders/grad_clip.wgsl share (its overrides): threads per workgroup. */
const CONSTANTS = { WG: 256 };
/** Each thread sums at least this many elements before the tree: fewer, fuller partials. */
const ITEMS_PER_THREAD = 4;
/**
 * Upper bound on partial sums. Enough workgroups to fill a large GPU; it also bounds each
 * thread's sequential chain (N / (WG·4096) elements), the running-sum state (4 MiB, never
 * cleared: the first chunk's pass starts the sums) and the finishing workgroup's loop (16).
 */
const MAX_PARTIALS = 4096;

/** Number of first-stage workgroups (= partial sums) for n elements; depends on n only. */
export function gradClipPartials(n: number): number {
  return Math.max(1, Math.min(MAX_PARTIALS, Math.ceil(n / (CONSTANTS.WG * ITEMS_PER_THREAD))));
}

/**
 * out: (2) = [scale, norm] with norm = sqrt(Σ grads²) over n elements and
 * scale = min(1, maxNorm / (norm + 1e-6)), as PyTorch's clip_grad_norm_.
 * Fixed-order reduction: per-thread running sums carried from buffer to buffer when `grads` is
 * split (`GpuRuntime.chunksOf`), one pairwise tree per workgroup into partial sums, then one
 * workgroup sums the partials in order: the same grads give bit-identical outputs, however
 * they are split. grads: (≥ n); out: (≥ 2). Sums are float32: Σ grads² must stay below ~3e38.
 */
export function gradClip(
  rt: GpuRuntime,
  out: GpuTensor,
  grads: GpuTensor,
  n: number,
  maxNorm: number,
): void {
  if (!Number.isInteger(n) || n < 1 || n > grads.length) {
    throw new Error(`gradClip: n = ${n} for grads of ${grads.length} elements`);
  }
  if (out.length < 2) throw new Error(`gradClip: out needs 2 elements, has ${out.length}`);
  const groups = gradClipPartials(n);
  const state = rt.scratch(groups * CONSTANTS.WG, "f32", "grad_clip.state");
  let base = 0;
  for (const chunk of rt.chunksOf(rt.view(grads, 0, n))) {
    rt.dispatch({
      shader: "grad_clip",
      entry: "partial_chunk",
      uniforms: [{ u32: chunk.length }, { f32: maxNorm }, { u32: base }],
      tensors: [state, chunk],
      constants: CONSTANTS,
      workgroups: [groups],
    });
    base += chunk.length;
  }
  const partials = rt.scratch(groups, "f32", "grad_clip.partials");
  rt.dispatch({
    shader: "grad_clip",
    entry: "partial_tree",
    tensors: [partials, state],
    constants: CONSTANTS,
    workgroups: [groups],
  });
  rt.dispatch({
    shader: "grad_clip",
    entry: "finish",
    uniforms: [{ u32: groups }, { f32: maxNorm }],
    tensors: [out, partials],
    constants: CONSTANTS,
    workgroups: [1],
  });
  // Safe to recycle now: the queue runs the dispatches above before any later use.
  rt.dispose(state);
  rt.dispose(partials);
}
