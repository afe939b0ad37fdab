/**
 * Signing behind one interface (a key in memory on servers, a wallet extension in browsers)
 * and sr25519 verification.
 *
 * @module
 */

import { cryptoWaitReady, sr25519Verify } from "@polkadot/util-crypto";
import { u8aWrapBytes } from "@polkadot/util";
import { PUBLIC_KEY_BYTES, publicKeyFromAddress } from "./address.ts";

/** Bytes of an sr25519 signature. */
export const SIGNATURE_BYTES = 64;

/**
 * Something that signs with an sr25519 key: {@linkcode KeySigner} on servers, a wallet
 * extension in a browser. Callers never see the secret.
 */
export interface Signer {
  /** SS58 address of the key. */
  readonly address: string;
  /** The 32-byte sr25519 public key. */
  readonly publicKey: Uint8Array;
  /** A 64-byte sr25519 signature of `message` (substrate signing context). */
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** A wallet's delegation to this key (src/identity/delegation.ts), carried in its messages. */
  readonly delegation?: Uint8Array;
}

let ready: Promise<void> | undefined;

/**
 * Resolves once the crypto back end is initialised (the WASM build where it loads; the
 * pure-JS fallbacks otherwise). Await it once before deriving keys or signing; it is cheap to
 * await again.
 */
export function identityReady(): Promise<void> {
  // cryptoWaitReady resolves false rather than failing where WASM is blocked; every function
  // used here then falls back to JS, so that is not an error.
  ready ??= cryptoWaitReady().then(() => {});
  return ready;
}

function keyBytes(publicKeyOrAddress: Uint8Array | string): Uint8Array | undefined {
  if (typeof publicKeyOrAddress === "string") {
    try {
      return publicKeyFromAddress(publicKeyOrAddress);
    } catch {
      return undefined;
    }
  }
  return publicKeyOrAddress instanceof Uint8Array && publicKeyOrAddress.length === PUBLIC_KEY_BYTES
    ? publicKeyOrAddress
    : undefined;
}

function verifyRaw(message: Uint8Array, signature: Uint8Array, key: Uint8Array): boolean {
  try {
    return sr25519Verify(message, signature, key);
  } catch {
    // @scure/sr25519 throws on a signature or key that is not a valid point encoding.
    return false;
  }
}

/**
 * Whether `signature` is an sr25519 signature of `message` by the key (32 bytes or an SS58
 * address). Also accepts a signature of `<Bytes>message</Bytes>`, which is what polkadot-js
 * style wallet extensions sign for raw bytes, so browser peers verify like any other.
 * Never throws: any malformed argument gives false.
 */
export function verify(
  message: Uint8Array,
  signature: Uint8Array,
  publicKeyOrAddress: Uint8Array | string,
): boolean {
  const key = keyBytes(publicKeyOrAddress);
  if (!key || !(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
  if (signature.length !== SIGNATURE_BYTES) return false;
  return verifyRaw(message, signature, key) || verifyRaw(u8aWrapBytes(message), signature, key);
}
