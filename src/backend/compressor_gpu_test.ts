/**
 * The GPU compressor gives the CPU compressor's payload bytes and error-feedback buffer
 * (test/kernels/compressor_cases.ts) on the default adapter: Dawn, or Deno's wgpu with
 * `WEBLOCO_GPU=wgpu`. Chromium runs the same cases on the kernel page.
 */
import { GPU_TEST, testRuntime } from "../../test/gpu.ts";
import { compressorCases } from "../../test/kernels/compressor_cases.ts";
import { formatResult } from "../../test/kernels/check.ts";

const rt = await testRuntime();

for (const c of compressorCases) {
  Deno.test({
    name: `GpuCompressor equals cpuCompressor on ${c.shape}`,
    ...GPU_TEST,
    async fn() {
      const results = await c.run(rt);
      if (results.length === 0) throw new Error(`${c.shape} checked nothing`);
      const bad = results.filter((r) => !r.ok);
      if (bad.length > 0) throw new Error(bad.map(formatResult).join("\n"));
    },
  });
}
