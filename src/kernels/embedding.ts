/**
 * Token embedding launchers (shaders/embedding.wgsl). The backward takes the batch's inverse index
 * (`embeddingIndex` in src/reference/embedding.ts, built on the CPU) so that it needs no atomics.
 */
import { type GpuRuntime, type GpuTensor, grid1d } from "../gpu/runtime.ts";

/** What the launcher and shaders/embedding.wgsl share (its overrides): threads per workgroup. */
const CONSTANTS = { WG: 256 };

function need(what: string, t: GpuTensor, n: number): void {
  if (t.length < n) throw new Error(`embedding: ${what} has ${t.length} elements, needs ${n}`);
}

/** out(BT,C) = wte[tokens[i]].  tokens: (BT) u32; wte: (V,C). */
export function embeddingForward(
  rt: GpuRuntime,
  out: GpuTensor,
  tokens: GpuTensor,
  wte: GpuTensor,
  BT: number,
  C: number,
): void {
  need("out", out, BT * C);
  need("tokens", tokens, BT);
  rt.dispatch({
    shader: "embedding",
    entry: "forward",
    uniforms: [{ u32: BT }, { u32: C }],
    tensors: [out, tokens, wte],
    constants: CONSTANTS,
    workgroups: grid1d(BT * C, CONSTANTS.WG),
  });
}

/**
 * dwte(V,C) += Σ over positions p of token v of dout[p]  (summed in ascending p, no atomics).
 * rowStart: (V+1) u32, positions: (BT) u32, dout: (BT,C).
 */
export function embeddingBackward(
  rt: GpuRuntime,
  dwte: GpuTensor,
  dout: GpuTensor,
  rowStart: GpuTensor,
  positions: GpuTensor,
  V: number,
  C: number,
): void {
  need("dwte", dwte, V * C);
  need("rowStart", rowStart, V + 1);
  rt.dispatch({
    shader: "embedding",
    entry: "backward",
    uniforms: [{ u32: V }, { u32: C }],
    tensors: [dwte, dout, rowStart, positions],
    constants: CONSTANTS,
    workgroups: grid1d(V * C, CONSTANTS.WG),
  });
}
