/**
 * Our matmul against onnxruntime-web in one Chromium page on one adapter (`deno task
 * bench:ortweb`, not in CI): web/ortbench.html at each n of WEBLOCO_ORTWEB_SIZES (default
 * 512,1024,2048), f32 and f16, ours and onnxruntime-web's WebGPU execution provider on the same
 * adapter, plus its wasm provider. Results equal within tolerance (checked here), GFLOP/s and
 * the ratio, written to bench/ortweb_matmul.json after every n (a run cut short keeps what it
 * measured). The wasm provider runs one thread (the page is not cross-origin isolated).
 */
import { expect, test } from "@playwright/test";
import { writeFileSync } from "node:fs";
import type { BenchRow } from "../../web/ortbench_page.ts";

const SIZES = (process.env.WEBLOCO_ORTWEB_SIZES ?? "512,1024,2048").split(",").map(Number);
const RESULTS = "bench/ortweb_matmul.json";

test.skip(!process.env.WEBLOCO_BENCH, "a benchmark: deno task bench:ortweb");
test.describe.configure({ mode: "serial" });

test("matmul GFLOP/s: ours vs onnxruntime-web (WebGPU, wasm), one Chromium page", async ({ page }) => {
  // SwiftShader runs ~0.1–0.7 GFLOP/s: n = 2048 is ~17 GFLOP a run, a minute or more each.
  test.setTimeout(Number(process.env.WEBLOCO_ORTWEB_TIMEOUT_MIN ?? 28) * 60_000);
  const logs: string[] = [];
  page.on("console", (m) => {
    logs.push(`${m.type()}: ${m.text()}`);
    if (m.text().startsWith("ortbench") || process.env.WEBLOCO_ORTWEB_DEBUG) console.log(m.text());
  });
  await page.goto("/ortbench.html");
  await page.waitForFunction(
    () => globalThis.ortBench !== undefined || globalThis.ortBenchError !== undefined,
    null,
    {
      timeout: 120_000,
    },
  );
  expect(await page.evaluate(() => globalThis.ortBenchError ?? null), logs.slice(-20).join("\n"))
    .toBeNull();
  const info = await page.evaluate(() => ({
    adapter: globalThis.ortBench!.adapter,
    shaderF16: globalThis.ortBench!.shaderF16,
    adapterShaderF16: globalThis.ortBench!.adapterShaderF16,
    ortWasmThreads: globalThis.ortBench!.ortWasmThreads,
  }));
  const out = {
    date: new Date().toISOString().slice(0, 10),
    ...info,
    browser: page.context().browser()?.version(),
    gpuLent: false,
    sizes: [] as { n: number; rows: (BenchRow & { vsOrtWebgpu?: number })[] }[],
  };
  for (const n of SIZES) {
    const rows: (BenchRow & { vsOrtWebgpu?: number })[] = await page.evaluate(
      (n) => globalThis.ortBench!.run(n),
      n,
    );
    for (const r of rows) {
      const ort = rows.find((o) => o.impl === "ort-webgpu" && o.dtype === r.dtype && o.gflops);
      if (r.impl === "ours" && r.gflops && ort?.gflops) r.vsOrtWebgpu = r.gflops / ort.gflops;
      console.log(
        `n=${n} ${r.impl} ${r.dtype}: ` +
          (r.unavailable ?? `${r.gflops!.toFixed(3)} GFLOP/s (${r.ms!.toFixed(0)} ms × ${r.reps})` +
              (r.check
                ? ` check ${r.check.ok ? "ok" : "FAILED"} worst ${
                  r.check.worstRatio.toFixed(3)
                } of tol`
                : "") +
              (r.vsOrtWebgpu ? ` ×${r.vsOrtWebgpu.toFixed(2)} vs ort-webgpu` : "")),
      );
    }
    out.sizes.push({ n, rows });
    writeFileSync(RESULTS, JSON.stringify(out, null, 2) + "\n");
  }
  console.log(`wrote ${RESULTS}`);
  for (const { n, rows } of out.sizes) {
    for (const r of rows) {
      if (r.check) {
        expect(
          r.check.ok,
          `n=${n} ${r.impl} ${r.dtype} differs from ours f32: ${JSON.stringify(r.check)}`,
        ).toBe(true);
      }
    }
    expect(rows.find((r) => r.impl === "ours" && r.dtype === "f32")?.gflops).toBeGreaterThan(0);
  }
});
