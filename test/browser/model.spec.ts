/**
 * The exported model in Chromium (dist/model.html, dist/model_tjs.html): onnxruntime-web's
 * logits equal the project's own forward (computed in the same page), its generation (KV cache)
 * equals `deno task generate`'s greedy tokens, on WebAssembly and on the WebGPU execution
 * provider (SwiftShader here); a mismatched export is refused; and Transformers.js, loading
 * the folder from this server only, generates the same greedy tokens.
 *
 * The folder is written by test/browser/model_folder.ts (Deno) and served by page.route.
 */
import { expect, type Page, test } from "@playwright/test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openModelPanel, serveModelFolder, writeModelFolder } from "./model_fixture.ts";
// The pages' `globalThis` declarations.
import type {} from "../../web/model_page.ts";
import type {} from "../../web/model_tjs_page.ts";

const PROMPT = "In the";
const MAX_TOKENS = 24;
/** Worst |onnxruntime-web − our forward| allowed on a logit (float32 sums in another order). */
const TOLERANCE = 1e-3;

let dir = "";
let greedy: number[] = [];

test.beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "webloco-model-"));
  greedy = writeModelFolder(dir, PROMPT, MAX_TOKENS);
});

test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Serves the folder under /test-model/; `patch` may replace a file's bytes. */
function serve(page: Page, patch?: (name: string, body: Buffer) => Buffer): Promise<void> {
  return serveModelFolder(page, dir, patch);
}

async function openPanel(page: Page, ep: string): Promise<string> {
  await serve(page);
  return await openModelPanel(page, ep);
}

// WebGPU runs on SwiftShader here (slow): fewer and shorter checks.
for (const [ep, long, maxTokens] of [["wasm", 64, MAX_TOKENS], ["webgpu", 12, 4]] as const) {
  test(`model panel: onnxruntime-web (${ep}) logits and greedy tokens equal the project's`, async ({ page }) => {
    test.setTimeout(300_000);
    const used = await openPanel(page, ep);
    console.log(`model panel: execution provider ${used}`);
    const sequences = [
      [73],
      [73, 110, 32, 116, 104],
      Array.from({ length: long }, (_, i) => (i * 37 + 5) % 256),
    ];
    const worst = await page.evaluate(async (seqs) => {
      let worst = 0;
      for (const ids of seqs) {
        const [got, want] = await Promise.all([
          globalThis.modelPanel!.onnxLogits(ids),
          globalThis.modelPanel!.referenceLogits(ids),
        ]);
        if (got.length !== want.length) return Infinity;
        for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      }
      return worst;
    }, sequences);
    console.log(
      `model panel (${used}): worst |onnxruntime-web − forward| ${worst.toExponential(2)}`,
    );
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
    const r = await page.evaluate(
      ([p, n]) => globalThis.modelPanel!.generate(p, n, { temperature: 0, topK: 0, topP: 1 }, 1),
      [PROMPT, maxTokens] as const,
    );
    expect(r.ids).toEqual(greedy.slice(0, maxTokens));
    expect(r.text.length).toBeGreaterThan(0);
    console.log(`model panel (${used}): ${r.tokensPerSecond.toFixed(1)} tokens/s`);
    // Typing generates: the shown text starts with the prompt and grows.
    await page.fill("#max", "8");
    await page.fill("#prompt", "And God");
    await expect(page.locator("#text")).toContainText("And God", { timeout: 60_000 });
    await expect(page.locator("#tps")).not.toHaveText("–", { timeout: 60_000 });
  });
}

test("model panel refuses an onnx/model.onnx of another model", async ({ page }) => {
  // Serve another export's ONNX: the same bytes with its model hash changed in the metadata.
  await serve(page, (name, body) => {
    if (name !== "onnx/model.onnx") return body;
    const text = body.toString("latin1"), at = text.indexOf("modelHash");
    expect(at).toBeGreaterThan(0);
    const out = Buffer.from(body), i = at + "modelHash".length + 4; // key, then value's tag + length
    out[i] = out[i] === 0x30 ? 0x31 : 0x30;
    return out;
  });
  await page.goto("/model.html?model=./test-model/&ep=wasm");
  await page.waitForFunction(() => globalThis.modelPanelError !== undefined, null, {
    timeout: 120_000,
  });
  expect(await page.evaluate(() => globalThis.modelPanelError)).toContain("a mismatched export");
});

test("Transformers.js loads the exported folder (no Hub) and generates deno task generate's greedy tokens", async ({ page }) => {
  test.setTimeout(300_000);
  await serve(page);
  const res = await page.goto("/model_tjs.html");
  expect(res?.ok()).toBe(true);
  await page.waitForFunction(() => globalThis.transformersGreedy !== undefined);
  const root = new URL("./", page.url()).pathname;
  const ids = await page.evaluate(
    ([r, p, n]) => globalThis.transformersGreedy(r, "test-model", p, n),
    [root, PROMPT, MAX_TOKENS] as const,
  );
  expect(ids).toEqual(greedy);
});
