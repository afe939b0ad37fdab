/**
 * Causal grouped-query attention launchers (FlashAttention-2 style, shaders/attention.wgsl):
 * query head h reads kv head floor(h / (NH/NKV)), scores scaled by 1/sqrt(D). Deterministic
 * (fixed-order sums, no atomics). D must be a multiple of 4, at most 128: rows are vec4s and the
 * tiling is a const header per D (one pipeline per D); T is only a uniform, any length.
 */
import type { GpuRuntime, GpuTensor, Uniform } from "../gpu/runtime.ts";

/** Largest head dim: a row's NC (vec4s per lane) stays ≤ 4 with TPR ≤ 8 lanes per row. */
export const ATTENTION_MAX_D = 128;
/** Invocations per workgroup (BR rows × TPR lanes). */
const WG = 64;
/** Longest streamed tile: rows of K/V (or Q/dO) per workgroup barrier round. */
const MAX_BC = 16;
/**
 * Workgroup memory the tiles may use: WebGPU's guaranteed minimum of
 * maxComputeWorkgroupStorageSize, so that every device gets the same tiling (and sum order).
 */
const WORKGROUP_BYTES = 16384;

/**
 * The tiling for head dim D, which shaders/attention.wgsl receives as its const header (the
 * values size its workgroup and private arrays): D4 = D/4 vec4 columns, split over TPR lanes
 * per row (a power of two, so that BR = WG/TPR rows fill the workgroup) with NC = ceil(D4/TPR)
 * ≤ 4 columns each, and BC streamed rows per tile, as many as fit WORKGROUP_BYTES next to the
 * partial-sum arrays (two (BC, D) tiles of vec4s, two (BR, BC, TPR) and two (BC) of f32).
 */
function attentionTiling(D: number): Record<"D4" | "TPR" | "NC" | "BR" | "BC", number> {
  const D4 = D / 4;
  const TPR = 2 ** Math.ceil(Math.log2(Math.ceil(D4 / 4)));
  const BR = WG / TPR;
  const bytesPerRow = 2 * 16 * D4 + 2 * 4 * BR * TPR + 2 * 4;
  return {
    D4,
    TPR,
    NC: Math.ceil(D4 / TPR),
    BR,
    BC: Math.min(MAX_BC, Math.floor(WORKGROUP_BYTES / bytesPerRow)),
  };
}

/** The pipeline of one entry point for head dim D. */
function pipeline(entry: string, D: number) {
  return { shader: "attention", entry, header: attentionTiling(D) };
}

function params(
  B: number,
  T: number,
  NH: number,
  NKV: number,
  D: number,
  label: string,
): Uniform[] {
  if (!(D >= 4 && D <= ATTENTION_MAX_D && D % 4 === 0)) {
    throw new Error(`${label}: head dim D=${D} must be a multiple of 4 in [4, ${ATTENTION_MAX_D}]`);
  }
  if (NKV < 1 || NH % NKV !== 0) {
    throw new Error(`${label}: NH=${NH} is not a multiple of NKV=${NKV}`);
  }
  return [{ u32: B }, { u32: T }, { u32: NH }, { u32: NKV }, { f32: 1 / Math.sqrt(D) }];
}

/**
 * Forward. out: (B,T,NH,D); lse: (B,NH,T) the log-sum-exp of each query row's scaled scores
 * (saved for backward); q: (B,T,NH,D); k, v: (B,T,NKV,D). A u32 `out` receives packed f16 pairs
 * (the f32 values rounded, saturating), what the f16-activation backend
 * (src/backend/gpu_ops_f16.ts) hands the output projection; `attentionBackward` reads it so.
 */
export function attentionForward(
  rt: GpuRuntime,
  out: GpuTensor,
  lse: GpuTensor,
  q: GpuTensor,
  k: GpuTensor,
  v: GpuTensor,
  B: number,
  T: number,
  NH: number,
  NKV: number,
  D: number,
): void {
  rt.dispatch({
    ...pipeline(out.dtype === "u32" ? "forward_f16" : "forward", D),
    uniforms: params(B, T, NH, NKV, D, "attention.forward"),
    tensors: [out, lse, q, k, v],
    workgroups: [Math.ceil(T / attentionTiling(D).BR), NH, B],
  });
}

/**
 * Backward. dq: (B,T,NH,D), dk, dv: (B,T,NKV,D) — all written (=), not accumulated; dout, q,
 * out: (B,T,NH,D); k, v: (B,T,NKV,D); out and lse as written by attentionForward (out packed f16
 * when it is a u32 tensor: delta = dout·out then uses those f16 values).
 */
export function attentionBackward(
  rt: GpuRuntime,
  dq: GpuTensor,
  dk: GpuTensor,
  dv: GpuTensor,
  dout: GpuTensor,
  q: GpuTensor,
  k: GpuTensor,
  v: GpuTensor,
  out: GpuTensor,
  lse: GpuTensor,
  B: number,
  T: number,
  NH: number,
  NKV: number,
  D: number,
): void {
  const uniforms = params(B, T, NH, NKV, D, "attention.backward");
  if (B * T * NH === 0) return;
  // delta[b,h,t] = dout_t·out_t: written by the dq pass (one row per invocation there anyway),
  // read by the dk/dv pass, which needs it for every query row of its group.
  const delta = rt.tensor(B * NH * T, "f32", "attention.delta");
  rt.dispatch({
    ...pipeline(out.dtype === "u32" ? "backward_dq_f16" : "backward_dq", D),
    uniforms,
    tensors: [dq, delta, q, k, v, dout, lse, out],
    workgroups: [Math.ceil(T / attentionTiling(D).BR), NH, B],
  });
  rt.dispatch({
    ...pipeline("backward_dkdv", D),
    uniforms,
    tensors: [dk, dv, q, k, v, dout, lse, delta],
    workgroups: [Math.ceil(T / attentionTiling(D).BR), NKV, B],
  });
  rt.dispose(delta);
}
