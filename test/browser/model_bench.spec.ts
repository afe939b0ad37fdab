/**
 * Generation speed in one Chromium page on one adapter (`deno task bench:generate`, not in CI):
 * the project's own forward (src/model/llama.ts on the WebGPU kernels; no KV cache: it
 * recomputes the window for every token) against onnxruntime-web (KV cache) on its WebGPU and
 * WebAssembly execution providers, greedy from the same prompt, same exported model
 * (test/browser/model_folder.ts). Writes bench/generate.json.
 */
import { expect, test } from "@playwright/test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openModelPanel, serveModelFolder, writeModelFolder } from "./model_fixture.ts";
import type {} from "../../web/model_page.ts";

const PROMPT = "In the beginning";
const MAX_TOKENS = 32;

test.skip(!process.env.WEBLOCO_BENCH, "a benchmark: deno task bench:generate");

test("generation tokens/s: the project's forward vs onnxruntime-web, one Chromium page", async ({ page }) => {
  test.setTimeout(600_000);
  const dir = mkdtempSync(join(tmpdir(), "webloco-model-bench-"));
  try {
    writeModelFolder(dir, PROMPT, 1);
    await serveModelFolder(page, dir);
    await openModelPanel(page, "wasm");
    const result = await page.evaluate(
      ([p, n]) => globalThis.modelPanel!.bench(p, n),
      [PROMPT, MAX_TOKENS] as const,
    );
    const out = {
      date: new Date().toISOString().slice(0, 10),
      model: "tiny (local genesis)",
      prompt: PROMPT,
      newTokens: MAX_TOKENS,
      ...result,
    };
    writeFileSync("bench/generate.json", JSON.stringify(out, null, 2) + "\n");
    console.log(JSON.stringify(out));
    expect(Number(result.ours_webgpu)).toBeGreaterThan(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
