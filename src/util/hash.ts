/**
 * SHA-256, the one hash of the project (run ids, model hashes, payload names).
 *
 * Two entry points over one definition: {@linkcode sha256} uses WebCrypto (native, fast on
 * checkpoint-sized inputs, but async-only in every runtime); {@linkcode sha256Sync} serves the
 * few callers that must stay synchronous (the run id of a genesis, the checkpoint encoder's
 * self-check). Both return the same 32 bytes for the same input (tested).
 *
 * @module
 */

import { sha256AsU8a } from "@polkadot/util-crypto";

/** SHA-256 of `bytes` (WebCrypto: Deno and browsers in a secure context). */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  // digest() wants an ArrayBuffer-backed view; a view on a SharedArrayBuffer is copied.
  const view = bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : bytes.slice();
  return new Uint8Array(await crypto.subtle.digest("SHA-256", view));
}

/** SHA-256 of `bytes`, synchronously (JS/WASM; slower than {@linkcode sha256} on large inputs). */
export function sha256Sync(bytes: Uint8Array): Uint8Array {
  return sha256AsU8a(bytes);
}
