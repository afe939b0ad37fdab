/**
 * Benchmark page (web/bench.html): runs test/browser/peer_bench.ts in a Web Worker, as the
 * volunteer page runs the peer, and publishes the result as `globalThis.__bench`.
 */
import type { PeerBenchResult } from "../test/browser/peer_bench.ts";

declare global {
  /** The result, or `{ error }`, for Playwright. */
  var __bench: PeerBenchResult | { error: string } | undefined;
}

const steps = Number(new URLSearchParams(location.search).get("steps") ?? 8);
const worker = new Worker(new URL("../workers/bench_worker.ts", import.meta.url), {
  type: "module",
});
worker.onmessage = (ev: MessageEvent<PeerBenchResult | { error: string }>) => {
  globalThis.__bench = ev.data;
  document.getElementById("out")!.textContent = JSON.stringify(ev.data, null, 2);
};
worker.onerror = (ev) => {
  globalThis.__bench = { error: ev.message || "the worker failed to load" };
};
worker.postMessage(steps);
