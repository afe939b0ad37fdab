/** Every WGSL kernel against its TypeScript reference, on the runtime's default adapter. */
import { GPU_TEST, testRuntime } from "./gpu.ts";
import { adapterLabel } from "../src/gpu/device.ts";
import { ALL_CASES } from "./kernels/all_cases.ts";
import { formatResult } from "./kernels/check.ts";

const rt = await testRuntime();
console.log(`kernels on ${adapterLabel(rt.adapter)}`);

for (const c of ALL_CASES) {
  Deno.test({
    name: `${c.kernel} matches reference on ${c.shape}`,
    ...GPU_TEST,
    async fn() {
      const results = await c.run(rt);
      if (results.length === 0) throw new Error(`${c.kernel} (${c.shape}) checked nothing`);
      const bad = results.filter((r) => !r.ok);
      if (bad.length > 0) throw new Error(bad.map(formatResult).join("\n"));
    },
  });
}
