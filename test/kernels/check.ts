/**
 * Kernel-vs-reference comparison shared by the Deno suite and the Chromium page:
 * a failure names the kernel, the shape and the worst element.
 */
import type { GpuRuntime, GpuTensor } from "../../src/gpu/runtime.ts";

/** The outcome of comparing one output of one kernel on one shape. */
export interface CheckResult {
  kernel: string;
  shape: string;
  output: string;
  ok: boolean;
  /** Worst element by err / tol: its index, values and error. */
  worst: { index: number; got: number; want: number; err: number; tol: number };
}

/** One kernel on one shape: runs GPU and reference and compares every output. */
export interface KernelCase {
  kernel: string;
  shape: string;
  run(rt: GpuRuntime): Promise<CheckResult[]>;
}

/** Compares elementwise with |got − want| ≤ atol + rtol·|want|; NaN anywhere fails. */
export function compare(
  kernel: string,
  shape: string,
  output: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  atol = 1e-5,
  rtol = 1e-4,
): CheckResult {
  let worst = { index: -1, got: 0, want: 0, err: 0, tol: 1 };
  let worstRatio = -1;
  let ok = got.length === want.length;
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    const err = Math.abs(got[i] - want[i]);
    const tol = atol + rtol * Math.abs(want[i]);
    const ratio = Number.isFinite(err) ? err / tol : Infinity;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = { index: i, got: got[i], want: want[i], err, tol };
    }
    if (!(err <= tol)) ok = false;
  }
  return { kernel, shape, output, ok, worst };
}

/** One line per result, e.g. `FAIL rmsnorm (4×70) dx: worst [17] got 0.1 want 0.2 err 0.1 > tol 1e-5`. */
export function formatResult(r: CheckResult): string {
  const w = r.worst;
  return `${r.ok ? "ok  " : "FAIL"} ${r.kernel} (${r.shape}) ${r.output}: worst [${w.index}] ` +
    `got ${w.got} want ${w.want} err ${w.err.toExponential(2)} ${r.ok ? "≤" : ">"} tol ${
      w.tol.toExponential(2)
    }`;
}

/** Uploads a Float32Array or Uint32Array into a new tensor. */
export function upload(rt: GpuRuntime, data: Float32Array | Uint32Array, label: string): GpuTensor {
  const t = rt.tensor(data.length, data instanceof Uint32Array ? "u32" : "f32", label);
  rt.write(t, data);
  return t;
}

/**
 * `run` on every reduction path of `rt`: the portable one (subgroups switched off), then, where
 * the device has subgroups, the subgroup one (results labelled " [subgroups]"); the runtime's
 * choice is restored afterwards.
 */
export async function onEachReductionPath(
  rt: GpuRuntime,
  run: (path: string) => Promise<CheckResult[]>,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const before = rt.subgroups;
  try {
    for (const sg of rt.hasSubgroups ? [false, true] : [false]) {
      rt.subgroups = sg;
      results.push(...await run(sg ? " [subgroups]" : ""));
    }
  } finally {
    rt.subgroups = before;
  }
  return results;
}
