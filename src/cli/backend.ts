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

/**
 * Opens `backend`: WebGPU (Dawn or Deno's wgpu) unless `cpu`, or `auto` finds no adapter or only
 * a software one; then the float32 CPU reference. `log` gets one line saying which it is.
 * `checkLimits` sees the device's limits (and whether it is a software adapter, whose buffers
 * are host memory) before anything is allocated on it and may throw
 * (src/model/memory.ts `checkBufferLimits`: a model too large is refused in one line).
 */
export async function openBackend(
  backend: Backend,
  log: (line: string) => void,
  checkLimits?: (limits: GPUSupportedLimits, software: boolean) => void,
): Promise<Ops<unknown>> {
  if (backend === "cpu") {
    const ops = cpuOps(32);
    log(`backend: CPU (float32, ${ops.name})`);
    return ops as Ops<unknown>;
  }
  const rt = await openRuntime(backend).catch((e) => {
    if (backend !== "auto") throw e;
    log(`no WebGPU adapter (${(e as Error).message}); using the CPU reference`);
    return null;
  });
  if (rt === null) return cpuOps(32) as Ops<unknown>;
  if (backend === "auto" && rt.adapter.software) {
    // A software rasteriser (SwiftShader) is far slower than the CPU backend on the same cores
    // (measured 2026-12-01, tiny preset, batch 8: ~112 tokens/s on Dawn/SwiftShader against
    // ~1,600+ on the CPU with its WebAssembly matmul; README "Benchmarks").
    log(
      `backend: CPU reference (only a software adapter: ${
        adapterLabel(rt.adapter)
      }; --backend dawn forces it)`,
    );
    rt.destroy();
    return cpuOps(32) as Ops<unknown>;
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
