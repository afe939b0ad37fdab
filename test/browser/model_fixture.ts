/**
 * What the model specs share (model.spec.ts, model_bench.spec.ts): the exported folder that
 * test/browser/model_folder.ts (Deno) writes, served to the page under /test-model/, and the
 * model panel (dist/model.html) opened on it.
 */
import { expect, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
// The page's `globalThis` declarations.
import type {} from "../../web/model_page.ts";

/** Writes the folder into `dir`; returns `deno task generate`'s greedy tokens for `prompt`. */
export function writeModelFolder(dir: string, prompt: string, maxTokens: number): number[] {
  const out = execFileSync(
    "node_modules/.bin/deno",
    [
      "run",
      "-A",
      "test/browser/model_folder.ts",
      "--out",
      dir,
      "--prompt",
      prompt,
      "--max-tokens",
      String(maxTokens),
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  const line = out.trim().split("\n").at(-1) ?? "";
  expect(line.startsWith("MODEL_JSON "), out).toBe(true);
  return JSON.parse(line.slice("MODEL_JSON ".length)).greedy;
}

/** Serves `dir` under /test-model/ (404 for what it lacks); `patch` may replace a file's bytes. */
export async function serveModelFolder(
  page: Page,
  dir: string,
  patch: (name: string, body: Buffer) => Buffer = (_, b) => b,
): Promise<void> {
  // By path: the panel's own URL names the folder in its query.
  await page.route((url) => url.pathname.includes("/test-model/"), (route) => {
    const name = decodeURIComponent(
      new URL(route.request().url()).pathname.replace(/^.*\/test-model\//, ""),
    );
    let body: Buffer;
    try {
      body = readFileSync(join(dir, name));
    } catch {
      return route.fulfill({ status: 404, body: "" });
    }
    return route.fulfill({ status: 200, body: patch(name, body) });
  });
}

/**
 * Opens the model panel on the served folder with execution provider `ep`, waits until it is
 * ready and fails on its error; returns the execution provider it uses.
 */
export async function openModelPanel(page: Page, ep: string): Promise<string> {
  const res = await page.goto(`/model.html?model=./test-model/&ep=${ep}`);
  expect(res?.ok(), `GET /model.html: ${res?.status()} (did \`vite build\` run?)`).toBe(true);
  await page.waitForFunction(
    () => globalThis.modelPanel !== undefined || globalThis.modelPanelError !== undefined,
    null,
    {
      timeout: 120_000,
    },
  );
  expect(await page.evaluate(() => globalThis.modelPanelError ?? null)).toBeNull();
  return await page.evaluate(() => globalThis.modelPanel!.ep);
}
