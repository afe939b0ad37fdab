/**
 * Deno compatibility fixes for libp2p, applied before a node is created.
 *
 * libp2p's peer store locks with `mortice`, which under a Node-like runtime opens a
 * `BroadcastChannel` and calls `channel.unref?.()` so that it does not keep the process alive.
 * Deno's BroadcastChannel has no `unref` (it keeps an op referenced while open), so a Deno
 * process that ever created a libp2p node never exits by itself, even after `stop()`. The shim
 * adds `unref`/`ref` to `BroadcastChannel.prototype` using Deno's internal ref switch; it does
 * nothing where `unref` exists or the switch is not found.
 *
 * @module
 */

let installed = false;

/** Installs the shims once (idempotent). Returns whether the BroadcastChannel shim is active. */
export function installDenoShims(): boolean {
  if (installed) return true;
  const BC = (globalThis as { BroadcastChannel?: { prototype: object } }).BroadcastChannel;
  if (BC === undefined) return false;
  const proto = BC.prototype as Record<string | symbol, unknown>;
  if ("unref" in proto) {
    installed = true;
    return true;
  }
  const refSymbol = Object.getOwnPropertySymbols(proto).find((s) =>
    s.description === "refBroadcastChannel"
  );
  if (refSymbol === undefined) return false;
  Object.defineProperty(proto, "unref", {
    configurable: true,
    writable: true,
    value: function (this: Record<symbol, (ref: boolean) => void>) {
      this[refSymbol](false);
      return this;
    },
  });
  Object.defineProperty(proto, "ref", {
    configurable: true,
    writable: true,
    value: function (this: Record<symbol, (ref: boolean) => void>) {
      this[refSymbol](true);
      return this;
    },
  });
  installed = true;
  return true;
}
