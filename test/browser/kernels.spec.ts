/**
 * The kernel suite (test/kernels/all_cases.ts) in headless Chromium: dist/kernels.html runs every
 * case on the browser's WebGPU adapter and publishes `window.__kernelResults`.
 */
import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { type CheckResult, formatResult } from "../kernels/check.ts";
import { pageResults } from "./page_results.ts";

interface KernelPageResults {
  adapter: string | null;
  results: CheckResult[];
  roundDigest?: string;
  error?: string;
}

/** SwiftShader runs compute shaders on the CPU: allow the whole suite several minutes. */
const SUITE_TIMEOUT_MS = 9 * 60_000;

test("every kernel case matches its reference in Chromium", async ({ page }) => {
  test.setTimeout(SUITE_TIMEOUT_MS + 60_000);
  const logs: string[] = [];
  const out = await pageResults<KernelPageResults>(
    page,
    "/kernels.html",
    "__kernelResults",
    SUITE_TIMEOUT_MS,
    logs,
  );

  const context = `\nadapter: ${out.adapter}\nbrowser console:\n${logs.slice(-30).join("\n")}`;
  expect(out.error, `the kernel page failed: ${out.error}${context}`).toBeUndefined();
  expect(out.adapter, `no WebGPU adapter${context}`).toBeTruthy();
  expect(out.results.length, "the kernel page checked nothing").toBeGreaterThan(0);
  const failed = out.results.filter((r) => !r.ok);
  expect(
    failed.length,
    `${failed.length} of ${out.results.length} kernel outputs differ from the reference on ` +
      `${out.adapter}:\n${failed.map(formatResult).join("\n")}`,
  ).toBe(0);
  console.log(`kernels: ${out.results.length} outputs ok on ${out.adapter}`);

  // Aggregation + outer step: Chromium and Deno must produce bit-identical parameters.
  const deno = execFileSync("node_modules/.bin/deno", ["run", "-A", "test/determinism/round_digest_main.ts"], {
    encoding: "utf8",
    timeout: 120_000,
  });
  const denoDigest = /ROUND_DIGEST ([0-9a-f]{64})/.exec(deno)?.[1];
  expect(denoDigest, `deno printed no digest:\n${deno}`).toBeTruthy();
  expect(out.roundDigest, "SparseLoCo round digest: Chromium vs Deno").toBe(denoDigest);
  console.log(`sparseloco round digest ${denoDigest}: Chromium = Deno`);
});
