import { acquireGpu, type GpuBackendName } from "../gpu/device.ts";
import { GpuRuntime } from "../gpu/runtime.ts";
import { loadShaders } from "./shaders.ts";

/** Acquires a device for this runtime and loads every shader: the one entry to the GPU. */
export async function openRuntime(backend: GpuBackendName = "auto"): Promise<GpuRuntime> {
  const [gpu, source] = await Promise.all([acquireGpu(backend), loadShaders()]);
  return new GpuRuntime(gpu, source);
}
