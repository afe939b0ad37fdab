/**
 * The training page in Chromium gives the same losses as Deno (Dawn): same corpus, tokenizer,
 * trainLocal, seed and options. Deno runs test/browser/deno_losses.ts; the page runs
 * workers/train_worker.ts in a module Web Worker.
 */
import { expect, test } from "@playwright/test";
import { type ChildProcess, spawn } from "node:child_process";
import { pageResults } from "./page_results.ts";

/** A short run: both sides take the same parameters (names as in workers/train_protocol.ts). */
const PARAMS = { preset: "tiny", steps: 4, seed: 7, batch: 4 };
const ATOL = 1e-3;
const RTOL = 1e-3;
const DENO_TIMEOUT_MS = 5 * 60_000;
const PAGE_TIMEOUT_MS = 5 * 60_000;
const RESULT_PREFIX = "LOSSES_JSON ";

interface TrainPageResults {
  adapter: string | null;
  losses: number[];
  error?: string;
}

/** Deno processes this spec started; killed after each test whatever happened. */
const children = new Set<ChildProcess>();

test.afterEach(() => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  }
  children.clear();
});

/** Runs deno_losses.ts and returns its adapter and losses. */
function denoLosses(): Promise<{ adapter: string; losses: number[] }> {
  const args = ["run", "-A", "test/browser/deno_losses.ts"];
  for (const [k, v] of Object.entries(PARAMS)) args.push(`--${k}`, String(v));
  return new Promise((resolve, reject) => {
    const child = spawn("node_modules/.bin/deno", args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? "/tmp",
        NO_COLOR: "1",
      },
    });
    children.add(child);
    let stdout = "", stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`deno ${args.join(" ")} took over ${DENO_TIMEOUT_MS / 1000} s\n${stderr}`));
    }, DENO_TIMEOUT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start node_modules/.bin/deno: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      const line = stdout.split("\n").reverse().find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || !line) {
        reject(
          new Error(`deno ${args.join(" ")} exited with ${code ?? signal}:\n${stderr}\n${stdout}`),
        );
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)));
    });
  });
}

test("training in Chromium matches Deno step by step", async ({ page }) => {
  test.setTimeout(DENO_TIMEOUT_MS + PAGE_TIMEOUT_MS + 60_000);

  const deno = await test.step("Deno (Dawn) losses", denoLosses);
  expect(deno.losses.length, "Deno reported a loss per step").toBe(PARAMS.steps);

  const logs: string[] = [];
  const query = new URLSearchParams(Object.entries(PARAMS).map(([k, v]) => [k, String(v)]));
  const browser = await test.step("Chromium losses", () =>
    pageResults<TrainPageResults>(
      page,
      `/index.html?${query}`,
      "__trainResults",
      PAGE_TIMEOUT_MS,
      logs,
    ));

  const context = `\nbrowser adapter: ${browser.adapter}, deno adapter: ${deno.adapter}\n` +
    `browser losses: ${JSON.stringify(browser.losses)}\ndeno losses:    ${
      JSON.stringify(deno.losses)
    }\n` +
    `browser console:\n${logs.slice(-30).join("\n")}`;
  expect(browser.error, `the training page failed: ${browser.error}${context}`).toBeUndefined();
  expect(browser.adapter, `no WebGPU adapter in the page${context}`).toBeTruthy();
  expect(browser.losses.length, `one loss per step${context}`).toBe(PARAMS.steps);
  const bad = [...browser.losses, ...deno.losses].filter((l) => !Number.isFinite(l));
  expect(bad, `non-finite losses${context}`).toEqual([]);

  // Steps count from 1, as in StepReport.step.
  let worst = { step: 0, browser: 0, deno: 0, diff: 0, tol: 1, ratio: -1 };
  browser.losses.forEach((b, i) => {
    const d = deno.losses[i];
    const diff = Math.abs(b - d), tol = ATOL + RTOL * Math.abs(d);
    if (diff / tol > worst.ratio) {
      worst = { step: i + 1, browser: b, deno: d, diff, tol, ratio: diff / tol };
    }
  });
  const summary = `worst step ${worst.step}: browser ${worst.browser} deno ${worst.deno} ` +
    `|Δ| ${worst.diff.toExponential(2)} ${worst.ratio <= 1 ? "≤" : ">"} tol ${
      worst.tol.toExponential(2)
    }`;
  console.log(`browser vs Deno over ${PARAMS.steps} steps on ${browser.adapter}: ${summary}`);
  expect(worst.ratio, `browser and Deno losses differ: ${summary}${context}`).toBeLessThanOrEqual(
    1,
  );
});
