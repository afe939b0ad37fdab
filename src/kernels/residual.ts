import { grid1d, type GpuRuntime, type GpuTensor } from "../gpu/runtime.ts";

/** What the launcher and shaders/residual.wgsl share (its overrides): threads per workgroup. */
const CONSTANTS = { WG: 256 };

/** out = a + b.  a, b, out: (N) */
export function residualForward(rt: GpuRuntime, out: GpuTensor, a: GpuTensor, b: GpuTensor, n: number): void {
  rt.dispatch({
    shader: "residual",
    entry: "add",
    uniforms: [{ u32: n }, { f32: 0 }],
    tensors: [out, a, b],
    constants: CONSTANTS,
    workgroups: grid1d(n, CONSTANTS.WG),
  });
}

/** dst += scale·src: the residual's backward (scale 1) and gradient accumulation.  (N) */
export function accumulate(rt: GpuRuntime, dst: GpuTensor, src: GpuTensor, n: number, scale = 1): void {
  rt.dispatch({
    shader: "residual",
    entry: "accumulate",
    uniforms: [{ u32: n }, { f32: scale }],
    tensors: [dst, src],
    constants: CONSTANTS,
    workgroups: grid1d(n, CONSTANTS.WG),
  });
}
