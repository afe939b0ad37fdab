/** Rotary position embedding launchers (Hugging Face LLaMA rotate_half convention). */
import { type GpuRuntime, type GpuTensor, grid1d } from "../gpu/runtime.ts";

/** What the launcher and shaders/rope.wgsl share (its overrides): threads per workgroup. */
const CONSTANTS = { WG: 256 };

function launch(
  rt: GpuRuntime,
  dst: GpuTensor,
  src: GpuTensor,
  table: GpuTensor,
  B: number,
  T: number,
  H: number,
  D: number,
  sign: 1 | -1,
  label: string,
): void {
  if (D % 2 !== 0) throw new Error(`${label}: head dim D=${D} must be even`);
  if (table.length < T * D) {
    throw new Error(`${label}: table has ${table.length} < T·D = ${T * D} values`);
  }
  const overlap = dst.buffer === src.buffer && dst.offset < src.offset + src.length * 4 &&
    src.offset < dst.offset + dst.length * 4;
  if (overlap) throw new Error(`${label}: output may not alias its input`);
  const n = B * T * H * (D / 2);
  rt.dispatch({
    shader: "rope",
    entry: "rotate",
    uniforms: [{ u32: n }, { u32: T }, { u32: H }, { u32: D / 2 }, { f32: sign }],
    tensors: [dst, src, table],
    constants: CONSTANTS,
    workgroups: grid1d(n, CONSTANTS.WG),
    label,
  });
}

/** out = rotate(x).  x, out: (B,T,H,D); table: (T,D/2,2) of [cos, sin] (see reference ropeTable). out may not alias x. */
export function ropeForward(
  rt: GpuRuntime,
  out: GpuTensor,
  x: GpuTensor,
  table: GpuTensor,
  B: number,
  T: number,
  H: number,
  D: number,
): void {
  launch(rt, out, x, table, B, T, H, D, 1, "rope.forward");
}

/** dx = rotateᵀ(dout) (rotation by −angle).  dout, dx: (B,T,H,D); table: (T,D/2,2). dx may not alias dout. */
export function ropeBackward(
  rt: GpuRuntime,
  dx: GpuTensor,
  dout: GpuTensor,
  table: GpuTensor,
  B: number,
  T: number,
  H: number,
  D: number,
): void {
  launch(rt, dx, dout, table, B, T, H, D, -1, "rope.backward");
}
