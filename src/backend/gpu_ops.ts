/** `Ops` on the WGSL kernels: commands are recorded and run in order on the GPU queue. */
import { type Kernels, type Memory, type Ops, pickKernels } from "./ops.ts";
import type { GpuRuntime, GpuTensor } from "../gpu/runtime.ts";
import * as launchers from "../kernels/mod.ts";
import { GpuCompressor } from "./compressor_gpu.ts";

/** The GPU backend over one runtime. */
export function gpuOps(rt: GpuRuntime): Ops<GpuTensor> {
  const memory: Memory<GpuTensor> = {
    name: "gpu",
    tensor: (length, label) => rt.tensor(length, "f32", label),
    indices: (length, label) => rt.tensor(length, "u32", label),
    view: (t, start, length, label) => rt.view(t, start, length, label),
    write: (t, data) => rt.write(t, data),
    read: (t) => rt.read(t),
    zero: (t) => rt.zero(t),
    copy: (dst, src) => rt.copy(dst, src),
  };
  const kernels = pickKernels(launchers, (fn) => (...args: unknown[]) => fn(rt, ...args), "src/kernels/mod.ts");
  return {
    ...memory,
    ...(kernels as unknown as Kernels<GpuTensor>),
    compressor: (layout, options) => new GpuCompressor(rt, layout, options),
  };
}
