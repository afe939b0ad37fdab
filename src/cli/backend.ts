/**
 * The `--backend` flag of every Deno command that trains or scores (peer, validator, swarm,
 * train): one list of choices, one parser and one way to open each, so a flag means one thing
 * everywhere.
 *
 * @module
 */

import { cpuOps } from "../backend/cpu_ops.ts";
import { gpuOps } from "../backend/gpu_ops.ts";
import type { Ops } from "../backend/ops.ts";
import { adapterLabel } from "../gpu/device.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import { openRuntime } from "../kernels/open_runtime.ts";
import { UsageError } from "./cli.ts";

/**
 * The choices of `--backend`: `cpu` is the float32 CPU backend (the TypeScript references, the
 * matmul on WebAssembly SIMD with the reference's bits).
 */
export const BACKENDS = ["auto", "dawn", "wgpu", "cpu"] as const;

/** One choice of `--backend`. */
export type Backend = typeof BACKENDS[number];

/** The usage text of the flag: `--backend auto|dawn|wgpu|cpu`. */
export const BACKEND_USAGE = `--backend ${BACKENDS.join("|")}`;

/** `text` as a {@linkcode Backend}; throws {@linkcode UsageError} naming the choices. */
export function parseBackend(text: string): Backend {
  const found = BACKENDS.find((b) => b === text);
  if (found === undefined) {
    throw new UsageError(`--backend must be ${BACKENDS.join(", ")}, got "${text}"`);
  }
  return found;
}

/** What `--backend auto` can open: a WebGPU implementation or the CPU backend. */
export type AutoChoice = "dawn" | "wgpu" | "cpu";

/**
 * The rule of `--backend auto`, given the adapter each WebGPU implementation offered (null: none,
 * or that implementation is not available), in the order they were tried: the first hardware
 * adapter, else the CPU backend. Software adapters are never chosen: on this machine
 * (2026-12-01, 2 shared cores, tiny preset, batch 8, CPU time per step; docs/BACKENDS.md) the
 * CPU backend with its WebAssembly matmul took ~82 ms, Deno's wgpu on lavapipe ~1.3 s and
 * Dawn on SwiftShader ~4.5 s. Between hardware adapters nothing was measured (no GPU lent), so
 * Dawn, the implementation the kernels are tuned and tested on, is tried first.
 */
export function autoChoice(
  offered: readonly { backend: "dawn" | "wgpu"; software: boolean | null }[],
): AutoChoice {
  return offered.find((o) => o.software === false)?.backend ?? "cpu";
}

/** The implementations `auto` tries, in order: WEBLOCO_GPU's alone when it names one. */
function autoCandidates(): ("dawn" | "wgpu")[] {
  const env = Deno.env.get("WEBLOCO_GPU");
  return env === "dawn" || env === "wgpu" ? [env] : ["dawn", "wgpu"];
}

/**
 * Opens `backend`: WebGPU (Dawn or Deno's wgpu) unless `cpu`; `auto` follows
 * {@linkcode autoChoice}: it opens Dawn, then Deno's wgpu (with --unstable-webgpu), keeps the
 * first hardware adapter and otherwise uses the float32 CPU backend. `log` gets one line saying
 * which it is. `checkLimits` sees the device's limits before anything is allocated on it and may
 * throw (src/model/memory.ts `checkBufferLimits`: a model too large is refused in one line).
 */
export async function openBackend(
  backend: Backend,
  log: (line: string) => void,
  checkLimits?: (limits: GPUSupportedLimits, software: boolean) => void,
): Promise<Ops<unknown>> {
  const cpu = (why: string) => {
    const ops = cpuOps(32);
    log(`backend: CPU (float32, ${ops.name}${why})`);
    return ops as Ops<unknown>;
  };
  if (backend === "cpu") return cpu("");
  let rt: GpuRuntime | null = null;
  if (backend === "auto") {
    const offered: { backend: "dawn" | "wgpu"; software: boolean | null }[] = [];
    const skipped: string[] = [];
    for (const name of autoCandidates()) {
      const opened = await openRuntime(name).catch((e) => {
        skipped.push(`${name}: ${(e as Error).message}`);
        return null;
      });
      offered.push({ backend: name, software: opened?.adapter.software ?? null });
      if (opened !== null && autoChoice(offered) === name) {
        rt = opened;
        break;
      }
      if (opened !== null) skipped.push(`${adapterLabel(opened.adapter)}: a software adapter`);
      opened?.destroy();
    }
    if (rt === null) return cpu(`; --backend auto found no hardware GPU: ${skipped.join("; ")}`);
  } else {
    rt = await openRuntime(backend);
  }
  log(`backend: ${adapterLabel(rt.adapter)}`);
  try {
    checkLimits?.(rt.device.limits, rt.adapter.software);
  } catch (e) {
    rt.destroy();
    throw e;
  }
  return gpuOps(rt) as Ops<unknown>;
}
