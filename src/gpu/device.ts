/**
 * One way to get a GPUDevice on every runtime webloco runs on.
 *
 * - browser / worker: `navigator.gpu`;
 * - Deno, `dawn` (default): Dawn from npm `webgpu`, on a real GPU through Vulkan when there is
 *   one, otherwise on SwiftShader (shipped by Debian's chromium package);
 * - Deno, `wgpu`: Deno's built-in `navigator.gpu` (needs --unstable-webgpu), a second WGSL compiler.
 *
 * Under Deno, WEBLOCO_MAX_BINDING (bytes) forces a smaller buffer size for split tensors than the
 * device's (tests: so that a tiny model spans several buffers; see src/gpu/runtime.ts), and
 * WEBLOCO_SUBGROUPS=1 opts the runtime into the subgroup kernels where the device has `subgroups`.
 */

/** Which WebGPU implementation to use. */
export type GpuBackendName = "auto" | "dawn" | "wgpu" | "browser";

/** What was acquired, for logs and benchmark files. */
export interface GpuAdapterDescription {
  backend: Exclude<GpuBackendName, "auto">;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software rasterisers (SwiftShader, lavapipe): slow, but correct. */
  software: boolean;
}

/** A device plus what it runs on. */
export interface AcquiredGpu {
  device: GPUDevice;
  adapter: GpuAdapterDescription;
  /** A forced bytes-per-buffer for split tensors (WEBLOCO_MAX_BINDING), below the device's. */
  maxBindingBytes?: number;
  /** WEBLOCO_SUBGROUPS=1: use the subgroup kernels where the device has them (GpuRuntime.subgroups). */
  preferSubgroups?: boolean;
  /** Releases the device; Dawn keeps a process alive while its instance lives. */
  destroy(): void;
}

/** Thrown when no adapter can be found; the message says what to install. */
export class GpuUnavailableError extends Error {
  override name = "GpuUnavailableError";
}

const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

function inDeno(): boolean {
  return typeof g.Deno !== "undefined" && typeof g.Deno.version?.deno === "string";
}

/** Human label such as `nvidia / ampere (dawn)`. */
export function adapterLabel(a: GpuAdapterDescription): string {
  const parts = [a.vendor, a.architecture, a.device].filter((s) => s && s.length > 0);
  return `${parts.join(" / ") || "unknown adapter"} (${a.backend}${a.software ? ", software" : ""})`;
}

function describe(adapter: GPUAdapter, backend: AcquiredGpu["adapter"]["backend"]) {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return {
    backend,
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    description: info.description ?? "",
    software: /swiftshader|llvmpipe|lavapipe|software|cpu/.test(text) || info.isFallbackAdapter === true,
  };
}

async function requestDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  // Ask for the adapter's own storage limits: the defaults (128 MiB per binding) cap model size.
  const l = adapter.limits;
  // Timestamps let the benchmark time each kernel on the GPU itself; shader-f16 lets the f16
  // matmul use native half arithmetic (src/kernels/matmul_f16.ts) instead of unpacking words;
  // subgroups let row reductions sum with subgroupAdd (src/kernels/rmsnorm.ts). Each is asked for
  // only where offered, so an adapter without them gets the same device as before.
  const requiredFeatures = (["timestamp-query", "shader-f16", "subgroups"] as const)
    .filter((f) => adapter.features.has(f));
  return await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(l.maxStorageBuffersPerShaderStage, 10),
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: Math.min(l.maxComputeInvocationsPerWorkgroup, 256),
    },
  });
}

async function dawnGpu(): Promise<{ gpu: GPU; keep: unknown }> {
  const env = g.Deno.env;
  // Offer SwiftShader next to whatever drivers the system has; a real GPU still wins below
  // because we ask for high performance.
  if (!env.get("VK_ICD_FILENAMES") && !env.get("VK_DRIVER_FILES")) {
    try {
      g.Deno.statSync(SWIFTSHADER_ICD);
      env.set("VK_ADD_DRIVER_FILES", SWIFTSHADER_ICD);
    } catch { /* no SwiftShader: only real drivers */ }
  }
  if (!env.get("XDG_RUNTIME_DIR")) env.set("XDG_RUNTIME_DIR", "/tmp");
  const spec = "webgpu";
  const mod = await import(spec);
  const gpu = mod.create([]) as GPU;
  return { gpu, keep: gpu };
}

/** WEBLOCO_MAX_BINDING under Deno, in bytes: a whole number ≥ 256, or undefined when unset. */
function maxBindingOverride(): number | undefined {
  const text = inDeno() ? g.Deno.env.get("WEBLOCO_MAX_BINDING") : undefined;
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 256) {
    throw new RangeError(`WEBLOCO_MAX_BINDING must be a whole number of bytes ≥ 256, got "${text}"`);
  }
  return n;
}

/**
 * Acquires a device. `backend` "auto" means navigator.gpu in a browser and Dawn under Deno;
 * the environment variable WEBLOCO_GPU (dawn | wgpu) overrides it under Deno.
 */
export async function acquireGpu(requested: GpuBackendName = "auto"): Promise<AcquiredGpu> {
  const maxBindingBytes = maxBindingOverride();
  const preferSubgroups = inDeno() && g.Deno.env.get("WEBLOCO_SUBGROUPS") === "1";
  let backend: AcquiredGpu["adapter"]["backend"];
  if (requested === "auto") {
    const fromEnv = inDeno() ? g.Deno.env.get("WEBLOCO_GPU") : undefined;
    backend = fromEnv === "wgpu" || fromEnv === "dawn" ? fromEnv : inDeno() ? "dawn" : "browser";
  } else {
    backend = requested;
  }
  let gpu: GPU | undefined;
  let keep: unknown = undefined;
  if (backend === "dawn") {
    if (!inDeno()) throw new GpuUnavailableError("the dawn backend runs under Deno only");
    try {
      ({ gpu, keep } = await dawnGpu());
    } catch (e) {
      throw new GpuUnavailableError(
        `cannot load Dawn from npm "webgpu" (${(e as Error).message}); run npm install`,
      );
    }
  } else {
    gpu = g.navigator?.gpu;
    if (!gpu) {
      throw new GpuUnavailableError(
        backend === "wgpu"
          ? "Deno's navigator.gpu is missing: run deno with --unstable-webgpu"
          : "this browser has no WebGPU (navigator.gpu); use a recent Chromium over https or localhost",
      );
    }
  }
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    throw new GpuUnavailableError(
      backend === "dawn"
        ? "no WebGPU adapter: Dawn found no Vulkan driver. Install libvulkan1 and chromium " +
          `(for SwiftShader at ${SWIFTSHADER_ICD}), or a GPU driver`
        : `no WebGPU adapter from ${backend}`,
    );
  }
  const device = await requestDevice(adapter);
  const description = describe(adapter, backend);
  return {
    device,
    adapter: description,
    ...(maxBindingBytes === undefined ? {} : { maxBindingBytes }),
    ...(preferSubgroups ? { preferSubgroups } : {}),
    destroy() {
      device.destroy();
      keep = undefined;
    },
  };
}
