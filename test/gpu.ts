/**
 * The GPU runtime for one Deno test module. Deno runs each module in its own worker, so each
 * opens its own device; releasing it when the module ends keeps finished modules' devices from
 * slowing the next ones down.
 */
import { openRuntime } from "../src/kernels/open_runtime.ts";
import type { GpuRuntime } from "../src/gpu/runtime.ts";
import { throttleDawnPolling } from "../src/testing/dawn_poll.ts";

/**
 * Opens the default runtime and destroys it after the module's last test. Dawn's event polling
 * is throttled first: unthrottled, its `mapAsync` can stall for minutes inside `deno test`
 * (docs/DAWN_MAPASYNC.md).
 */
export async function testRuntime(): Promise<GpuRuntime> {
  throttleDawnPolling();
  const rt = await openRuntime();
  Deno.test.afterAll(() => rt.destroy());
  return rt;
}

/** Options for tests that hold a GPU device across tests (Dawn keeps async work alive). */
export const GPU_TEST = { sanitizeOps: false, sanitizeResources: false } as const;
