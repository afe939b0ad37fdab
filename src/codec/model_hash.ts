/**
 * The identity of a model state: SHA-256 of its flat float32 parameter buffer as little-endian
 * bytes, padding included. Rounds, checkpoints, the record log and the simulation all name a
 * model by this hash, so it is defined here, below every layer that uses it.
 *
 * @module
 */

import { sha256, sha256Sync } from "../util/hash.ts";

function paramBytes(params: Float32Array): Uint8Array {
  return new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
}

/** The model hash of `params` (32 bytes). */
export function modelHash(params: Float32Array): Promise<Uint8Array> {
  return sha256(paramBytes(params));
}

/** {@linkcode modelHash}, synchronously (for the synchronous checkpoint encoder). */
export function modelHashSync(params: Float32Array): Uint8Array {
  return sha256Sync(paramBytes(params));
}
