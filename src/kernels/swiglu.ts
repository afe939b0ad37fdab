/** SwiGLU gate launchers (shaders/swiglu.wgsl): out = silu(gate) · up, elementwise. */
import { type GpuRuntime, type GpuTensor, grid1d } from "../gpu/runtime.ts";

/** What the launcher and shaders/swiglu.wgsl share (its overrides): threads per workgroup. */
const CONSTANTS = { WG: 256 };

/**
 * out = silu(gate) · up, silu(g) = g·σ(g).  gate, up, out: (n). A u32 `out` receives packed f16
 * pairs (ceil(n/2) words; the f32 values rounded, saturating), what the f16-activation backend
 * (src/backend/gpu_ops_f16.ts) hands the down projection.
 */
export function swigluForward(
  rt: GpuRuntime,
  out: GpuTensor,
  gate: GpuTensor,
  up: GpuTensor,
  n: number,
): void {
  const f16 = out.dtype === "u32";
  rt.dispatch({
    shader: "swiglu",
    entry: f16 ? "forward_f16" : "forward",
    uniforms: [{ u32: n }],
    tensors: [out, gate, up],
    constants: CONSTANTS,
    // Packed: one thread per word of two elements.
    workgroups: grid1d(f16 ? Math.ceil(n / 2) : n, CONSTANTS.WG),
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
