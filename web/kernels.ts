/**
 * The kernel suite in the browser: opens the WebGPU runtime, runs every case of ALL_CASES (the
 * same list `deno test` runs) and shows one table row per compared output.
 *
 * When done it sets `window.__kernelResults = { adapter, results, error? }` for Playwright
 * (test/browser/kernels.spec.ts). A case that throws or checks nothing becomes a failed result.
 */
import { openRuntime } from "../src/kernels/open_runtime.ts";
import { adapterLabel } from "../src/gpu/device.ts";
import type { GpuRuntime } from "../src/gpu/runtime.ts";
import { ALL_CASES } from "../test/kernels/all_cases.ts";
import { type CheckResult, formatResult, type KernelCase } from "../test/kernels/check.ts";
import { roundDigest } from "../test/determinism/round_digest.ts";

/** What the page publishes when it is done. */
export interface KernelPageResults {
  /** Adapter label, e.g. `google / swiftshader (browser, software)`; null if none was found. */
  adapter: string | null;
  results: CheckResult[];
  /** SHA-256 of θ after a seeded SparseLoCo round (test/determinism): must equal Deno's. */
  roundDigest?: string;
  /** Set when the suite could not run at all (no WebGPU, shader fetch failed, …). */
  error?: string;
}

declare global {
  /** Read by Playwright as `window.__kernelResults`. */
  var __kernelResults: KernelPageResults | undefined;
}

const $ = (id: string) => document.getElementById(id)!;
const tbody = document.querySelector("#results tbody")!;

function setStatus(text: string, isError = false): void {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** A failed result standing for a case that threw or compared nothing. */
function failure(c: KernelCase, output: string): CheckResult {
  return {
    kernel: c.kernel,
    shape: c.shape,
    output,
    ok: false,
    worst: { index: -1, got: NaN, want: NaN, err: NaN, tol: NaN },
  };
}

function addRow(r: CheckResult, ms: number): void {
  const tr = document.createElement("tr");
  tr.className = r.ok ? "ok" : "fail";
  tr.title = formatResult(r);
  const w = r.worst;
  const worst = w.index < 0
    ? "—"
    : `[${w.index}] got ${w.got} want ${w.want} err ${w.err.toExponential(2)} ${
      r.ok ? "≤" : ">"
    } ` +
      `tol ${w.tol.toExponential(2)}`;
  for (const text of [r.ok ? "ok" : "FAIL", r.kernel, r.shape, r.output, worst, ms.toFixed(0)]) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}

async function runCase(rt: GpuRuntime, c: KernelCase): Promise<CheckResult[]> {
  try {
    const results = await c.run(rt);
    return results.length > 0 ? results : [failure(c, "checked nothing")];
  } catch (e) {
    return [failure(c, `threw ${errorText(e)}`)];
  }
}

async function main(): Promise<KernelPageResults> {
  const filter = new URLSearchParams(location.search).get("filter") ?? "";
  const cases = ALL_CASES.filter((c) => c.kernel.includes(filter));
  let rt: GpuRuntime;
  try {
    setStatus("acquiring WebGPU adapter");
    rt = await openRuntime("browser");
  } catch (e) {
    return { adapter: null, results: [], error: errorText(e) };
  }
  const adapter = adapterLabel(rt.adapter);
  $("adapter").textContent = adapter;
  const results: CheckResult[] = [];
  try {
    for (const [i, c] of cases.entries()) {
      setStatus(`running ${i + 1}/${cases.length}: ${c.kernel} (${c.shape})`);
      const t0 = performance.now();
      const rs = await runCase(rt, c);
      const ms = performance.now() - t0;
      for (const r of rs) {
        results.push(r);
        addRow(r, ms);
      }
      // One line per case as it finishes: progress for whoever watches the console.
      const bad = rs.filter((r) => !r.ok).length;
      console.log(
        `case ${i + 1}/${cases.length} ${c.kernel} (${c.shape}): ${ms.toFixed(0)} ms, ` +
          (bad ? `${bad} of ${rs.length} FAIL` : `${rs.length} ok`),
      );
    }
  } finally {
    rt.destroy();
  }
  if (cases.length === 0) {
    return { adapter, results, error: `no kernel cases${filter ? ` match "${filter}"` : ""}` };
  }
  return { adapter, results, roundDigest: await roundDigest() };
}

const t0 = performance.now();
main()
  .catch((e): KernelPageResults => ({ adapter: null, results: [], error: errorText(e) }))
  .then((out) => {
    const failed = out.results.filter((r) => !r.ok).length;
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    if (out.error) setStatus(out.error, true);
    else {
      setStatus(
        `${out.results.length - failed}/${out.results.length} outputs ok in ${secs} s`,
        failed > 0,
      );
    }
    for (const r of out.results.filter((r) => !r.ok)) console.log(formatResult(r));
    globalThis.__kernelResults = out;
  });
