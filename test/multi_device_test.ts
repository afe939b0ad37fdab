/**
 * Two WebGPU devices in one process, each running a kernel, both in flight at once: the part of
 * the 72B plan (docs/72B.md: one process, eight devices, layers pipelined across them) that
 * can be tested without a GPU. On this machine both devices sit on the one software adapter.
 *
 * Found here (2026-12-01): WebGPU lets an adapter make one device ("consumed" afterwards; Dawn
 * refuses a second `requestDevice` with an OperationError, Deno's wgpu allows it), so each
 * device comes from its own `openRuntime` (Dawn: its own instance and adapter object).
 */
import { GpuRuntime } from "../src/gpu/runtime.ts";
import { matmul } from "../src/kernels/matmul.ts";
import { openRuntime } from "../src/kernels/open_runtime.ts";
import { matmul as matmulReference } from "../src/reference/matmul.ts";
import { assert } from "../src/testing/assert.ts";
import { throttleDawnPolling } from "../src/testing/dawn_poll.ts";
import { Rng } from "../src/util/rng.ts";
import { compare, formatResult } from "./kernels/check.ts";
import { GPU_TEST } from "./gpu.ts";

Deno.test({
  name: "two devices in one process each run a matmul concurrently and match the reference",
  ...GPU_TEST,
  async fn() {
    throttleDawnPolling();
    const runtimes: GpuRuntime[] = [];
    try {
      runtimes.push(await openRuntime(), await openRuntime());
      assert(runtimes[0].device !== runtimes[1].device, "two distinct devices");
      // Different shapes and inputs per device, as two pipeline stages would have.
      const jobs = runtimes.map((rt, i) => {
        const shape = { M: 48 + 16 * i, N: 40, K: 72, transB: true };
        const rng = new Rng(11 + i);
        const a = rng.normals(shape.M * shape.K), b = rng.normals(shape.N * shape.K);
        const ta = rt.tensor(a.length), tb = rt.tensor(b.length);
        const out = rt.tensor(shape.M * shape.N);
        rt.write(ta, a);
        rt.write(tb, b);
        matmul(rt, out, ta, tb, shape);
        rt.submit(); // both devices' work is queued before either is awaited
        const want = new Float32Array(shape.M * shape.N);
        matmulReference(want, a, b, shape);
        return { rt, out, want, shape: `${shape.M}×${shape.N}×${shape.K} NT on device ${i}` };
      });
      const got = await Promise.all(jobs.map((j) => j.rt.read(j.out)));
      const bad = jobs.map((j, i) => compare("matmul", j.shape, "out", got[i], j.want, 1e-4, 1e-4))
        .filter((r) => !r.ok);
      if (bad.length > 0) throw new Error(bad.map(formatResult).join("\n"));
    } finally {
      for (const rt of runtimes) rt.destroy();
    }
  },
});
