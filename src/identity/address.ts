/**
 * SS58 addresses (Substrate/Bittensor) and the 32-byte sr25519 public keys they encode.
 *
 * @module
 */

import { decodeAddress, encodeAddress } from "@polkadot/util-crypto";
import { IdentityError } from "./errors.ts";

/** The generic Substrate SS58 prefix, also Bittensor's: the format this project prints. */
export const DEFAULT_SS58_FORMAT = 42;

/** Bytes of an sr25519 public key. */
export const PUBLIC_KEY_BYTES = 32;

/**
 * The 32-byte public key that an SS58 address encodes (any prefix). Throws
 * {@linkcode IdentityError} for anything else: a bad checksum, a hex string, an account index.
 *
 * @example
 * ```ts
 * publicKeyFromAddress("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY").length; // 32
 * ```
 */
export function publicKeyFromAddress(address: string): Uint8Array {
  // decodeAddress also takes hex keys and short account indices; an address here must be SS58.
  if (
    typeof address !== "string" || address.length === 0 || address.length > 64 ||
    address.startsWith("0x")
  ) {
    throw new IdentityError(`not an SS58 address: ${JSON.stringify(String(address).slice(0, 80))}`);
  }
  let key: Uint8Array;
  try {
    key = decodeAddress(address);
  } catch (e) {
    throw new IdentityError(
      `not an SS58 address: ${JSON.stringify(address)} (${(e as Error).message})`,
    );
  }
  if (key.length !== PUBLIC_KEY_BYTES) {
    throw new IdentityError(
      `not an SS58 account address: ${JSON.stringify(address)} encodes ${key.length} bytes, not 32`,
    );
  }
  return key;
}

/** The SS58 address of a 32-byte public key (prefix 42 unless given). */
export function addressFromPublicKey(
  publicKey: Uint8Array,
  ss58Format = DEFAULT_SS58_FORMAT,
): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new IdentityError(`a public key is ${PUBLIC_KEY_BYTES} bytes, got ${publicKey?.length}`);
  }
  checkSs58Format(ss58Format);
  return encodeAddress(publicKey, ss58Format);
}

/** Throws {@linkcode IdentityError} unless `format` is a valid SS58 prefix (0..16383, not 46/47). */
export function checkSs58Format(format: number): void {
  // 46 and 47 are reserved by the SS58 registry; encodeAddress rejects them too.
  if (!Number.isInteger(format) || format < 0 || format > 16383 || format === 46 || format === 47) {
    throw new IdentityError(
      `SS58 format must be an integer in 0..16383 other than 46 and 47, got ${format}`,
    );
  }
}
