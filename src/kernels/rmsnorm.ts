/**
 * RMSNorm launchers (shaders/rmsnorm.wgsl): y = x · rstd · w, rstd = 1/sqrt(mean(x²) + eps).
 * Row passes use one workgroup per row; dw is reduced over rows in two fixed-order stages.
 * Where the runtime uses subgroups (`rt.subgroups`) the row passes sum with subgroupAdd (shader
 * "rmsnorm_subgroups", its own pipelines): one barrier less, the last bits in another order.
 */
import { type GpuRuntime, type GpuTensor, grid1d } from "../gpu/runtime.ts";
import { rowThreads } from "./row_threads.ts";

/** The shader of the row passes: the subgroup variant where the runtime uses it. */
function rowShader(rt: GpuRuntime): string {
  return rt.subgroups ? "rmsnorm_subgroups" : "rmsnorm";
}

/** Threads per workgroup of the dw passes (the shader's COL_WG override; its WG is rowThreads). */
const COL_WG = 256;

/**
 * Rows per chunk of the dw reduction: at most 256 chunks keep stage 2 short and the partials
 * buffer ≤ 256·C floats, at least 16 rows keep stage 1 from being all overhead. Depends on N only,
 * so the summation order (and the bits) is fixed for a shape.
 */
function rowsPerChunk(N: number): number {
  return Math.max(16, Math.ceil(N / 256));
}

/**
 * out: (N,C), rstd: (N) saved for backward, x: (N,C), w: (C). A u32 `out` receives the rows as
 * packed f16 pairs (the f32 values rounded, saturating; C even), what the f16-activation backend
 * (src/backend/gpu_ops_f16.ts) hands the matmuls: no separate cast pass.
 */
export function rmsnormForward(
  rt: GpuRuntime,
  out: GpuTensor,
  rstd: GpuTensor,
  x: GpuTensor,
  w: GpuTensor,
  N: number,
  C: number,
  eps: number,
): void {
  const f16 = out.dtype === "u32";
  if (f16 && C % 2 !== 0) {
    throw new Error(`rmsnormForward: packed f16 out (${out.label}) needs an even C, got ${C}`);
  }
  rt.dispatch({
    shader: rowShader(rt),
    entry: f16 ? "forward_f16" : "forward",
    constants: { WG: rowThreads(C) },
    uniforms: [{ u32: N }, { u32: C }, { f32: eps }, { u32: 0 }],
    tensors: [out, rstd, x, w],
    workgroups: grid1d(N, 1),
  });
}

/**
 * dx(N,C) written (=); dw(C) accumulated (+=, summed over rows in order).
 * dout, x: (N,C), w: (C), rstd: (N) from the forward.
 */
export function rmsnormBackward(
  rt: GpuRuntime,
  dx: GpuTensor,
  dw: GpuTensor,
  dout: GpuTensor,
  x: GpuTensor,
  w: GpuTensor,
  rstd: GpuTensor,
  N: number,
  C: number,
): void {
  if (N === 0 || C === 0) return;
  rt.dispatch({
    shader: rowShader(rt),
    entry: "backward",
    constants: { WG: rowThreads(C) },
    uniforms: [{ u32: N }, { u32: C }, { f32: 0 }, { u32: 0 }],
    tensors: [dx, rstd, x, dout, w],
    workgroups: grid1d(N, 1),
  });
  const rows = rowsPerChunk(N);
  const K = Math.ceil(N / rows);
  const partial = rt.tensor(K * C, "f32", "rmsnorm.dw_partial");
  rt.dispatch({
    shader: "rmsnorm",
    entry: "dw_partial",
    constants: { COL_WG },
    uniforms: [{ u32: N }, { u32: C }, { f32: 0 }, { u32: rows }],
    tensors: [partial, rstd, x, dout],
    workgroups: [Math.ceil(C / COL_WG), K],
  });
  // dw_reduce reads K from the N slot.
  rt.dispatch({
    shader: "rmsnorm",
    entry: "dw_reduce",
    constants: { COL_WG },
    uniforms: [{ u32: K }, { u32: C }, { f32: 0 }, { u32: 0 }],
    tensors: [dw, partial],
    workgroups: [Math.ceil(C / COL_WG)],
  });
  rt.dispose(partial);
}
