/**
 * Deno-only: sr25519 key files. A key file is JSON, readable by its owner only (mode 0600):
 *
 * ```json
 * {"version":1,"type":"sr25519","address":"5Grw…","mnemonic":"bottom drive obey …"}
 * ```
 *
 * with either `mnemonic` (BIP-39) or `seed` (`0x` + 64 hex digits), never both. The address
 * is written for people (and checked on read); its SS58 prefix is the signer's format.
 *
 * @module
 */

import { base58Decode, checkAddressChecksum, mnemonicValidate } from "@polkadot/util-crypto";
import { hexToU8a, u8aEq, u8aToHex } from "@polkadot/util";
import { DEFAULT_SS58_FORMAT, publicKeyFromAddress } from "./address.ts";
import { IdentityError } from "./errors.ts";
import { KeySigner } from "./key_signer.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";

/** The key file format version this module writes and reads. */
export const KEY_FILE_VERSION = 1;

/** Key files larger than this are not key files (a mnemonic file is ~250 bytes). */
const MAX_KEY_FILE_BYTES = 16 * 1024;

/** What a key file holds. */
export interface KeyFile {
  /** Format version: 1. */
  version: 1;
  /** Key type: always sr25519. */
  type: "sr25519";
  /** SS58 address of the key. */
  address: string;
  /** BIP-39 mnemonic (absent when `seed` is set). */
  mnemonic?: string;
  /** `0x` + 64 hex digits (absent when `mnemonic` is set). */
  seed?: string;
}

/** The secret to store: a mnemonic or a 32-byte seed. */
export type KeySecret = { mnemonic: string } | { seed: Uint8Array };

/** A missing, malformed, unsafe or existing key file; one line naming the path. */
export class KeyFileError extends IdentityError {
  /** "KeyFileError". */
  override name = "KeyFileError";
}

const isWindows = Deno.build.os === "windows";

function signerFor(secret: KeySecret, ss58Format: number): KeySigner {
  return "mnemonic" in secret
    ? KeySigner.fromMnemonic(secret.mnemonic, ss58Format)
    : KeySigner.fromSeed(secret.seed, ss58Format);
}

/**
 * Writes a new key file at `path` and returns its signer. The file appears atomically and
 * complete (flushed to disk: the printed address must not outlive a crash while the key does
 * not), with mode 0600 from the first byte, and never replaces an existing file (throws
 * {@linkcode KeyFileError}).
 */
export async function writeKeyFile(
  path: string,
  secret: KeySecret,
  ss58Format = DEFAULT_SS58_FORMAT,
): Promise<KeySigner> {
  const signer = signerFor(secret, ss58Format);
  const file: KeyFile = {
    version: KEY_FILE_VERSION,
    type: "sr25519",
    address: signer.address,
    ...("mnemonic" in secret
      ? { mnemonic: secret.mnemonic.trim() }
      : { seed: u8aToHex(secret.seed) }),
  };
  try {
    await writeFileAtomic(path, JSON.stringify(file, null, 2) + "\n", {
      mode: 0o600,
      createNew: true,
      sync: true,
    });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new KeyFileError(`${path}: already exists; refusing to overwrite a key file`);
    }
    if (e instanceof Deno.errors.NotFound) {
      throw new KeyFileError(`${path}: the folder does not exist`);
    }
    throw new KeyFileError(`${path}: cannot write the key file (${(e as Error).message})`);
  }
  return signer;
}

function ss58FormatOf(address: string): number {
  const [valid, , , format] = checkAddressChecksum(base58Decode(address));
  if (!valid) throw new IdentityError("bad checksum");
  return format;
}

/**
 * Parses the text of a key file (`source` names it in errors) and returns its signer. Throws
 * {@linkcode KeyFileError} for malformed JSON, unknown or missing fields, an invalid mnemonic
 * or seed, or an address that is not the key's.
 */
export function parseKeyFile(text: string, source: string): KeySigner {
  const fail = (what: string): never => {
    throw new KeyFileError(`${source}: ${what}`);
  };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the text around the error, which may be the secret.
    return fail("not valid JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return fail("expected a JSON object");
  }
  const o = v as Record<string, unknown>;
  const known = new Set(["version", "type", "address", "mnemonic", "seed"]);
  // JSON-quoted and cut: a name with a newline or of a megabyte stays one short line.
  for (const k of Object.keys(o)) {
    if (!known.has(k)) fail(`unknown field ${JSON.stringify(k.slice(0, 64))}`);
  }
  if (o.version !== KEY_FILE_VERSION) {
    fail(`version must be ${KEY_FILE_VERSION}, got ${JSON.stringify(o.version)}`);
  }
  if (o.type !== "sr25519") fail(`type must be "sr25519", got ${JSON.stringify(o.type)}`);
  if (typeof o.address !== "string") {
    fail(`address must be an SS58 address, got ${JSON.stringify(o.address)}`);
  }
  const address = o.address as string;
  let key: Uint8Array;
  let format: number;
  try {
    key = publicKeyFromAddress(address);
    format = ss58FormatOf(address);
  } catch {
    return fail(`address ${JSON.stringify(address)} is not a valid SS58 address`);
  }
  if (("mnemonic" in o) === ("seed" in o)) fail(`needs exactly one of "mnemonic" and "seed"`);
  let signer: KeySigner;
  if ("mnemonic" in o) {
    // Never echo secrets into an error message.
    if (typeof o.mnemonic !== "string" || !mnemonicValidate(o.mnemonic)) {
      fail("mnemonic is not a valid BIP-39 mnemonic");
    }
    signer = KeySigner.fromMnemonic(o.mnemonic as string, format);
  } else {
    if (typeof o.seed !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(o.seed)) {
      fail("seed must be 0x followed by 64 hex digits");
    }
    signer = KeySigner.fromSeed(hexToU8a(o.seed as string), format);
  }
  if (!u8aEq(signer.publicKey, key)) {
    fail(`address ${address} does not match the key's address ${signer.address}`);
  }
  return signer;
}

/**
 * Reads a key file and returns its signer. Throws {@linkcode KeyFileError} with one line for
 * a missing file, a file others can read or write (fix: `chmod 600`), or a malformed file.
 * Call `await identityReady()` first.
 */
export async function readKeyFile(path: string): Promise<KeySigner> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new KeyFileError(
        `${path}: no such key file (create one with: deno task keygen --out ${path})`,
      );
    }
    throw new KeyFileError(`${path}: cannot read the key file (${(e as Error).name})`);
  }
  if (!info.isFile) throw new KeyFileError(`${path}: not a regular file`);
  // Like ssh: a secret others can read is already compromised, so refuse to use it.
  if (!isWindows && info.mode !== null && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
    throw new KeyFileError(
      `${path}: permissions ${mode} let others access the key; run: chmod 600 ${path}`,
    );
  }
  if (info.size > MAX_KEY_FILE_BYTES) {
    throw new KeyFileError(`${path}: too large for a key file (${info.size} bytes)`);
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new KeyFileError(`${path}: cannot read the key file (${(e as Error).name})`);
  }
  return parseKeyFile(text, path);
}
