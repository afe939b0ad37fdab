/**
 * Module Web Worker of web/bench.html: times a peer window (test/browser/peer_bench.ts) for
 * the number of steps it is sent and posts the result, or `{ error }`.
 */
import { benchPeerWindow } from "../test/browser/peer_bench.ts";

const scope = self as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((ev: MessageEvent<number>) => void) | null;
};

scope.onmessage = (ev) => {
  benchPeerWindow(ev.data).then(
    (r) => scope.postMessage(r),
    (e) => scope.postMessage({ error: e instanceof Error ? e.message : String(e) }),
  );
};
