/**
 * The kernel suite (test/kernels/all_cases.ts) in headless Chromium: dist/kernels.html runs every
 * case on the browser's WebGPU adapter and publishes `window.__kernelResults`.
 */
import { expect, test } from "@playwright/test";
import { type CheckResult, formatResult } from "../kernels/check.ts";
import { pageResults } from "./page_results.ts";

interface KernelPageResults {
  adapter: string | null;
  results: CheckResult[];
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
});
