/** SwiGLU gate launchers (shaders/swiglu.wgsl): out = silu(gate) · up, elementwise. */
import { type GpuRuntime, type GpuTensor, grid1d } from "../gpu/runtime.ts";

/** What the launcher and shaders/swiglu.wgsl share (its overrides): threads per workgroup. */
const CONSTANTS = { WG: 256 };

/** out = silu(gate) · up, silu(g) = g·σ(g).  gate, up, out: (n) */
export function swigluForward(
  rt: GpuRuntime,
  out: GpuTensor,
  gate: GpuTensor,
  up: GpuTensor,
  n: number,
): void {
  rt.dispatch({
    shader: "swiglu",
    entry: "forward",
    uniforms: [{ u32: n }],
    tensors: [out, gate, up],
    constants: CONSTANTS,
    workgroups: grid1d(n, CONSTANTS.WG),
  });
}

/** dgate, dup written (=) from dout.  All (n). */
export function swigluBackward(
  rt: GpuRuntime,
  dgate: GpuTensor,
  dup: GpuTensor,
  dout: GpuTensor,
  gate: GpuTensor,
  up: GpuTensor,
  n: number,
): void {
  rt.dispatch({
    shader: "swiglu",
    entry: "backward",
    uniforms: [{ u32: n }],
    tensors: [dgate, dup, dout, gate, up],
    constants: CONSTANTS,
    workgroups: grid1d(n, CONSTANTS.WG),
  });
}
