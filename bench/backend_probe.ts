/**
 * Where one WebGPU backend's time goes in a training step, to compare Dawn (npm `webgpu`) with
 * Deno's wgpu on the same machine (docs/BACKENDS.md): device opening, pipeline creation (the
 * first step), submits and read-backs per step, the round trip of an empty submit and of a
 * 4-byte read-back, the cost of a trivial dispatch, one matmul of the tiny preset's shape, and
 * the steady step split into GPU kernel time (timestamp queries) and the rest.
 *
 *   deno run -A --unstable-webgpu bench/backend_probe.ts --backend dawn|wgpu [--steps N]
 *     [--preset tiny] [--batch 8] [--out bench/backends.json] [--dawn-toggles a,b]
 *
 * `--dawn-toggles disable_robustness` (Dawn only) opens Dawn with those device toggles, to see
 * what Tint's bounds checks cost; the entry is then stored as `dawn+disable_robustness`.
 * `--throttle-polling` makes Dawn poll its events every 1 ms instead of every event-loop turn
 * (src/testing/dawn_poll.ts), to see what its busy polling costs; stored as `…+throttled`.
 *
 * One backend per process (Dawn and wgpu each hold their own instance); the results file keeps
 * one entry per backend, so run it once for each.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { gpuOps } from "../src/backend/gpu_ops.ts";
import { adapterLabel } from "../src/gpu/device.ts";
import { GpuRuntime } from "../src/gpu/runtime.ts";
import { matmul } from "../src/kernels/matmul.ts";
import { openRuntime } from "../src/kernels/open_runtime.ts";
import { loadShaders } from "../src/kernels/shaders.ts";
import { throttleDawnPolling } from "../src/testing/dawn_poll.ts";
import { residualForward } from "../src/kernels/residual.ts";
import { writeFileAtomic } from "../src/util/atomic_write.ts";
import { Rng } from "../src/util/rng.ts";
import { trainingStep } from "./training_step.ts";

/** Median of `reps` timings of `fn` (ms), after one warm-up call. */
async function median(reps: number, fn: () => Promise<void>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Counts read-backs (each one a `mapAsync`) of `rt` from now on. */
function countReads(rt: GpuRuntime): { reads: number } {
  const counter = { reads: 0 };
  const read = rt.read.bind(rt), readU32 = rt.readU32.bind(rt);
  rt.read = (t) => (counter.reads++, read(t));
  rt.readU32 = (t) => (counter.reads++, readU32(t));
  return counter;
}

/** Process CPU time (user + system) in ms, from /proc (Linux). */
function cpuMs(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Dawn opened with device toggles (npm `webgpu`'s `enable-dawn-features=` flag), which
 * src/gpu/device.ts does not expose: the same SwiftShader ICD and the same storage limits.
 */
async function dawnWithToggles(toggles: string): Promise<GpuRuntime> {
  Deno.env.set("VK_ADD_DRIVER_FILES", "/usr/lib/chromium/vk_swiftshader_icd.json");
  const spec = "webgpu";
  const mod = await import(spec);
  let gpu: GPU | undefined = mod.create([`enable-dawn-features=${toggles}`]) as GPU;
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error("no Dawn adapter");
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: adapter.features.has("timestamp-query") ? ["timestamp-query"] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(l.maxStorageBuffersPerShaderStage, 10),
    },
  });
  const info = adapter.info;
  const gpuDesc = {
    device,
    adapter: {
      backend: "dawn" as const,
      vendor: info.vendor,
      architecture: info.architecture,
      device: `${info.device} +${toggles}`,
      description: info.description,
      software: true,
    },
    destroy() {
      device.destroy();
      gpu = undefined;
    },
  };
  return new GpuRuntime(gpuDesc, await loadShaders());
}

async function probe(
  backend: "dawn" | "wgpu",
  preset: string,
  batch: number,
  steps: number,
  toggles: string | undefined,
) {
  let t0 = performance.now();
  const rt = toggles ? await dawnWithToggles(toggles) : await openRuntime(backend);
  const openMs = performance.now() - t0;
  console.log(`${adapterLabel(rt.adapter)}: opened in ${openMs.toFixed(0)} ms`);

  // Round trips: an empty submit awaited, and a 4-byte tensor written and read back.
  const one = rt.tensor(4);
  const syncMs = await median(9, () => rt.sync());
  const readMs = await median(9, async () => {
    rt.write(one, new Float32Array(4));
    await rt.read(one);
  });
  // A trivial dispatch (64 adds), 200 in one submit: the per-dispatch cost of the backend.
  const a = rt.tensor(64), b = rt.tensor(64), c = rt.tensor(64);
  const dispatchMs = await median(5, async () => {
    for (let i = 0; i < 200; i++) residualForward(rt, c, a, b, 64);
    await rt.sync();
  }) / 200;
  // The tiny preset's largest forward matmul shape: (B·T = 512) × 176 × 64.
  const rng = new Rng(1);
  const M = 512, N = 176, K = 64;
  const x = rt.tensor(M * K), w = rt.tensor(N * K), y = rt.tensor(M * N);
  rt.write(x, rng.normals(M * K));
  rt.write(w, rng.normals(N * K));
  const matmulMs = await median(9, async () => {
    matmul(rt, y, x, w, { M, N, K, transB: true });
    await rt.sync();
  });

  // Training: the first step builds every pipeline; then steady steps.
  const pipelinesBefore = rt.stats.pipelinesCreated;
  t0 = performance.now();
  const s = await trainingStep(gpuOps(rt), preset, batch);
  const firstStepMs = performance.now() - t0;
  const pipelines = rt.stats.pipelinesCreated - pipelinesBefore;
  const counter = countReads(rt);
  const before = { ...rt.stats };
  const c0 = cpuMs();
  t0 = performance.now();
  for (let i = 0; i < steps; i++) await s.step();
  const stepMs = (performance.now() - t0) / steps;
  const stepCpuMs = (cpuMs() - c0) / steps;
  const per = (k: "submits" | "dispatches") => (rt.stats[k] - before[k]) / steps;
  const perStep = {
    submits: per("submits"),
    dispatches: per("dispatches"),
    reads: counter.reads / steps,
  };
  // GPU time of the kernels of one step (each dispatch in its own timestamped pass).
  let kernelMs: number | null = null;
  let kernels: { kernel: string; ms: number }[] = [];
  if (rt.canProfile) {
    rt.profile = new Map();
    await s.step();
    await rt.sync();
    kernelMs = [...rt.profile.values()].reduce((p, q) => p + q, 0);
    kernels = [...rt.profile.entries()].sort((p, q) => q[1] - p[1]).slice(0, 8)
      .map(([kernel, ms]) => ({ kernel, ms }));
    rt.profile = null;
  }
  const row = {
    backend,
    adapter: adapterLabel(rt.adapter),
    preset,
    batch,
    tokensPerStep: s.tokens,
    openMs,
    syncRoundTripMs: syncMs,
    readBackRoundTripMs: readMs,
    dispatchMs,
    matmulMs: { shape: `${M}×${N}×${K}`, ms: matmulMs, gflops: (2 * M * N * K) / matmulMs / 1e6 },
    firstStepMs,
    pipelines,
    stepMs,
    stepCpuMs,
    tokensPerSec: s.tokens / (stepMs / 1000),
    perStep,
    kernelMsPerStep: kernelMs,
    kernels,
  };
  console.log(JSON.stringify(row, null, 2));
  rt.destroy();
  return row;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string" },
    preset: { type: "string", default: "tiny" },
    batch: { type: "string", default: "8" },
    steps: { type: "string", default: "5" },
    out: { type: "string", default: "bench/backends.json" },
    "dawn-toggles": { type: "string" },
    "throttle-polling": { type: "boolean" },
  },
  strict: true,
});
if (values.backend !== "dawn" && values.backend !== "wgpu") {
  console.error("error: --backend must be dawn or wgpu");
  Deno.exit(2);
}
const toggles = values["dawn-toggles"];
const throttled = values["throttle-polling"] ?? false;
if (throttled) throttleDawnPolling();
if (toggles !== undefined && values.backend !== "dawn") {
  console.error("error: --dawn-toggles needs --backend dawn");
  Deno.exit(2);
}
const row = await probe(
  values.backend,
  values.preset!,
  Number(values.batch),
  Number(values.steps),
  toggles,
);
let all: Record<string, unknown> = {};
try {
  all = JSON.parse(await Deno.readTextFile(values.out!));
} catch { /* first run */ }
const key = (toggles ? `dawn+${toggles}` : values.backend) + (throttled ? "+throttled" : "");
all[key] = { date: new Date().toISOString(), throttled, ...row };
await writeFileAtomic(values.out!, JSON.stringify(all, null, 2) + "\n");
console.log(`wrote ${values.out}`);
Deno.exit(0);
