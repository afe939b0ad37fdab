/**
 * Causal grouped-query attention launchers: query head h reads kv head floor(h / (NH/NKV)),
 * scores scaled by 1/sqrt(D). Deterministic (fixed-order sums, no atomics). D must be a multiple
 * of 4, at most 128: rows are vec4s and D/4 is a pipeline constant (one pipeline per D).
 */
import type { GpuRuntime, GpuTensor, Uniform } from "../gpu/runtime.ts";

/**
 * What the launcher and shaders/attention.wgsl share. WG (rows per workgroup) and MAX_D4 (the
 * private row arrays' length in vec4s) size function-scope arrays, so they reach the shader as
 * its const header; TILE4 (vec4s per workgroup tile array) as an override, with D4 per pipeline.
 */
const HEADER = { WG: 64, MAX_D4: 32 };
const TILE4 = 128;
/** Largest head dim. */
export const ATTENTION_MAX_D = 4 * HEADER.MAX_D4;

/** The pipeline of one entry point for head dim D. */
function pipeline(entry: string, D: number) {
  return { shader: "attention", entry, header: HEADER, constants: { D4: D / 4, TILE4 } };
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
  const R = Math.min(HEADER.WG, Math.floor(TILE4 / (D / 4)));
  return [{ u32: B }, { u32: T }, { u32: NH }, { u32: NKV }, { u32: R }, { f32: 1 / Math.sqrt(D) }];
}

/**
 * Forward. out: (B,T,NH,D); lse: (B,NH,T) the log-sum-exp of each query row's scaled scores
 * (saved for backward); q: (B,T,NH,D); k, v: (B,T,NKV,D).
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
    ...pipeline("forward", D),
    uniforms: params(B, T, NH, NKV, D, "attention.forward"),
    tensors: [out, lse, q, k, v],
    workgroups: [Math.ceil(T / HEADER.WG), NH, B],
  });
}

/**
 * Backward. dq: (B,T,NH,D), dk, dv: (B,T,NKV,D) — all written (=), not accumulated; dout, q,
 * out: (B,T,NH,D); k, v: (B,T,NKV,D); out and lse as written by attentionForward.
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
    ...pipeline("backward_dq", D),
    uniforms,
    tensors: [dq, delta, q, k, v, dout, lse, out],
    workgroups: [Math.ceil(T / HEADER.WG), NH, B],
  });
  rt.dispatch({
    ...pipeline("backward_dkdv", D),
    uniforms,
    tensors: [dk, dv, q, k, v, dout, lse, delta],
    workgroups: [Math.ceil(T / HEADER.WG), NKV, B],
  });
  rt.dispose(delta);
}
