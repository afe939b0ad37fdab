/**
 * A {@linkcode Signer} over an sr25519 key held in memory (servers, tests, the local swarm).
 *
 * @module
 */

import { DEV_PHRASE, Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { keyExtractSuri, mnemonicValidate } from "@polkadot/util-crypto";
import { u8aToHex } from "@polkadot/util";
import { checkSs58Format, DEFAULT_SS58_FORMAT } from "./address.ts";
import { IdentityError } from "./errors.ts";
import type { Signer } from "./signer.ts";

/** Bytes of an sr25519 seed (a "mini secret"). */
export const SEED_BYTES = 32;

/**
 * Signs with an sr25519 key pair in memory. Keys derive exactly as in Substrate tools
 * (subkey, polkadot-js, Bittensor wallets): the same mnemonic gives the same address.
 * Call `await identityReady()` once before creating one.
 *
 * @example
 * ```ts
 * await identityReady();
 * const alice = KeySigner.fromUri("//Alice");
 * const sig = await alice.sign(new TextEncoder().encode("hello"));
 * verify(new TextEncoder().encode("hello"), sig, alice.address); // true
 * ```
 */
export class KeySigner implements Signer {
  readonly #pair: KeyringPair;
  /** SS58 address, in the format given at creation (42 by default). */
  readonly address: string;
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;

  private constructor(pair: KeyringPair) {
    this.#pair = pair;
    this.address = pair.address;
    this.publicKey = pair.publicKey.slice();
  }

  /**
   * From a Substrate secret URI: a mnemonic, a `0x` hex seed, or either followed by a
   * derivation path (`//hard/soft`); `//Alice` and friends are the well-known dev keys.
   * Throws {@linkcode IdentityError} for anything it cannot parse (without echoing the secret).
   */
  static fromUri(suri: string, ss58Format = DEFAULT_SS58_FORMAT): KeySigner {
    checkSs58Format(ss58Format);
    if (typeof suri !== "string" || suri.trim() === "") throw new IdentityError("empty secret URI");
    // The keyring would take any other short phrase as a space-padded raw seed: a weak key
    // from a typo. Only mnemonics, 0x seeds and dev paths are keys here.
    let phrase: string;
    try {
      phrase = keyExtractSuri(suri.startsWith("//") ? `${DEV_PHRASE}${suri}` : suri).phrase;
    } catch {
      throw new IdentityError("cannot parse the secret URI");
    }
    if (
      !/^0x[0-9a-fA-F]{64}$/.test(phrase) &&
      ![12, 15, 18, 21, 24].includes(phrase.split(" ").length)
    ) {
      throw new IdentityError(
        "cannot derive an sr25519 key: a secret URI starts with a mnemonic, a 0x seed or //",
      );
    }
    try {
      return new KeySigner(new Keyring({ type: "sr25519", ss58Format }).addFromUri(suri));
    } catch (e) {
      // The secret stays out of the message; the library's reason does not contain it.
      throw new IdentityError(
        `cannot derive an sr25519 key from the secret URI (${(e as Error).message})`,
      );
    }
  }

  /** From a BIP-39 mnemonic (12 to 24 English words); throws {@linkcode IdentityError} if invalid. */
  static fromMnemonic(mnemonic: string, ss58Format = DEFAULT_SS58_FORMAT): KeySigner {
    if (typeof mnemonic !== "string" || !mnemonicValidate(mnemonic.trim())) {
      throw new IdentityError("not a valid BIP-39 mnemonic (wrong word, word count or checksum)");
    }
    return KeySigner.fromUri(mnemonic.trim(), ss58Format);
  }

  /** From a 32-byte seed (mini secret); throws {@linkcode IdentityError} for another length. */
  static fromSeed(seed: Uint8Array, ss58Format = DEFAULT_SS58_FORMAT): KeySigner {
    if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
      throw new IdentityError(`an sr25519 seed is ${SEED_BYTES} bytes, got ${seed?.length}`);
    }
    return KeySigner.fromUri(u8aToHex(seed), ss58Format);
  }

  /** A 64-byte sr25519 signature of `message`. */
  sign(message: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(this.#pair.sign(message));
  }
}
