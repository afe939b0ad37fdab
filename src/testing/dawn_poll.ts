/**
 * A workaround for Dawn's `mapAsync` stall inside `deno test` (docs/DAWN_MAPASYNC.md).
 *
 * Dawn's Node binding (npm `webgpu`) polls its events from a chain of `setImmediate` callbacks
 * while any promise of it is pending, and makes a new native function for every poll. Each
 * such function registers a finalizer with Deno's N-API layer, whose removal is linear in the
 * number of live ones; an event loop that spins through hundreds of thousands of polls during
 * a long GPU wait then spends minutes removing them (measured: a loop that takes 85 s under
 * `deno run` did not finish in 15 minutes under `deno test`). Polling through `setTimeout` of
 * 1 ms instead makes ~100× fewer polls and functions, and the same loop ends in 26 s.
 *
 * It replaces the global `setImmediate` of the whole isolate, so it is for processes that own
 * their event loop's users: the GPU test modules (test/gpu.ts). Idempotent.
 *
 * @module
 */

let installed = false;

/**
 * Makes `globalThis.setImmediate(cb, …args)` a `setTimeout(cb, 1, …args)`, and `clearImmediate`
 * its `clearTimeout` (Deno only).
 */
export function throttleDawnPolling(): void {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  if (installed || typeof g.Deno === "undefined" || typeof g.setImmediate !== "function") return;
  installed = true;
  g.setImmediate = (cb: (...args: unknown[]) => void, ...args: unknown[]) =>
    setTimeout(cb, 1, ...args);
  // Its ids are now timer ids: cancelling one must cancel the timer.
  g.clearImmediate = (id: number) => clearTimeout(id);
}
