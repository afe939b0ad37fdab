/**
 * Softmax cross-entropy launchers (shaders/cross_entropy.wgsl): one workgroup per row of logits,
 * reduced in a fixed order (deterministic) by up to 256 threads, fewer for short rows. Where the
 * runtime uses subgroups (`rt.subgroups`) the row max/sum merge uses subgroupMax/subgroupAdd
 * (shader "cross_entropy_subgroups", its own pipelines; another order in the last bits).
 */
import { type GpuRuntime, type GpuTensor, grid1d } from "../gpu/runtime.ts";
import { rowThreads } from "./row_threads.ts";

/** The shader: the subgroup variant where the runtime uses it. */
function shader(rt: GpuRuntime): string {
  return rt.subgroups ? "cross_entropy_subgroups" : "cross_entropy";
}

/**
 * losses(N) = logsumexp(logits[i]) − logits[i, targets[i]] (numerically stable).
 * logits: (N,V), targets: (N) u32 < V.
 */
export function crossEntropyForward(
  rt: GpuRuntime,
  losses: GpuTensor,
  logits: GpuTensor,
  targets: GpuTensor,
  N: number,
  V: number,
): void {
  rt.dispatch({
    shader: shader(rt),
    entry: "forward",
    constants: { WG: rowThreads(V) },
    uniforms: [{ u32: N }, { u32: V }, { f32: 0 }],
    tensors: [losses, logits, targets],
    workgroups: grid1d(N, 1),
  });
}

/**
 * dlogits(N,V) = scale · (softmax(logits[i]) − onehot(targets[i]))  (written; the mean loss uses
 * scale = 1/N).  logits: (N,V), targets: (N) u32 < V.
 */
export function crossEntropyBackward(
  rt: GpuRuntime,
  dlogits: GpuTensor,
  logits: GpuTensor,
  targets: GpuTensor,
  N: number,
  V: number,
  scale: number,
): void {
  rt.dispatch({
    shader: shader(rt),
    entry: "backward",
    constants: { WG: rowThreads(V) },
    uniforms: [{ u32: N }, { u32: V }, { f32: scale }],
    tensors: [dlogits, logits, targets],
    workgroups: grid1d(N, 1),
  });
}
