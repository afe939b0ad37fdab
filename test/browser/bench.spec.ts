/**
 * The browser peer's speed against a Deno peer's, on the same backend (the CPU reference: a
 * software adapter here) and the same run settings: test/browser/peer_bench.ts under Deno,
 * then in a Web Worker of dist/bench.html, one after the other so neither shares the cores.
 * Prints both; fails only when either cannot run.
 */
import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import type { PeerBenchResult } from "./peer_bench.ts";
import type {} from "../../web/bench_page.ts";

const STEPS = 8;

test("a browser peer's inner steps against a Deno peer's (CPU reference both)", async ({ page }) => {
  test.setTimeout(180_000);
  const deno: PeerBenchResult = JSON.parse(
    execFileSync("node_modules/.bin/deno", [
      "run",
      "-A",
      "test/browser/peer_bench.ts",
      "--steps",
      String(STEPS),
    ], { encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } }),
  );
  const res = await page.goto(`/bench.html?steps=${STEPS}`);
  expect(res?.ok(), `GET /bench.html: ${res?.status()} (did \`vite build\` run?)`).toBe(true);
  await page.waitForFunction(() => globalThis.__bench !== undefined, undefined, {
    timeout: 120_000,
    polling: 500,
  });
  const tab = (await page.evaluate(() => globalThis.__bench))!;
  if ("error" in tab) throw new Error(`bench.html: ${tab.error}`);
  for (const r of [deno, tab]) {
    expect(r.steps).toBe(STEPS);
    expect(r.tokensPerSecond).toBeGreaterThan(0);
  }
  const line = (name: string, r: PeerBenchResult) =>
    `${name}: ${r.tokensPerSecond.toFixed(0)} tokens/s (${(r.stepSeconds * 1000).toFixed(0)} ms ` +
    `per step), compress ${(r.compressSeconds * 1000).toFixed(0)} ms`;
  console.log(`${line("deno peer  ", deno)}\n${line("chromium tab", tab)}`);
});
