/**
 * A content-addressed, in-memory store of payloads (compressed updates, checkpoints): sha256 →
 * bytes, with a byte cap. When a new payload does not fit, the oldest unpinned payloads are
 * evicted first. `put` verifies the hash, so the store never serves bytes under a wrong name.
 *
 * @module
 */

import { sha256 } from "../util/hash.ts";
import { fromHex, hex } from "../util/hex.ts";
import { NetError } from "./errors.ts";
import { DEFAULT_MAX_PAYLOAD_BYTES, HASH_BYTES } from "./protocols.ts";

/** A payload hash: 32 raw bytes, or 64 hex digits. */
export type PayloadHash = Uint8Array | string;

/** The 64-digit lower-case hex form of a payload hash; throws `invalid_argument` if malformed. */
export function hashHex(hash: PayloadHash): string {
  if (typeof hash === "string") {
    if (!/^[0-9a-fA-F]{64}$/.test(hash)) {
      throw new NetError("invalid_argument", "a payload hash is 64 hex digits");
    }
    return hash.toLowerCase();
  }
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_BYTES) {
    throw new NetError("invalid_argument", `a payload hash is ${HASH_BYTES} bytes`);
  }
  return hex(hash);
}

/** The 32 raw bytes of a payload hash; throws `invalid_argument` if malformed. */
export function hashBytes(hash: PayloadHash): Uint8Array {
  if (typeof hash !== "string") {
    hashHex(hash); // validates
    return hash;
  }
  return fromHex(hashHex(hash));
}

/** What a payload server needs from a store: lookup by hash (hex). */
export interface PayloadSource {
  /** The bytes stored under `hash`, or `undefined`. */
  get(hash: PayloadHash): Uint8Array | undefined;
}

/** Options of {@linkcode PayloadStore}. */
export interface PayloadStoreOptions {
  /** Total bytes held before the oldest unpinned payloads are evicted (default 1 GiB). */
  maxBytes?: number;
  /** Largest single payload accepted (default {@linkcode DEFAULT_MAX_PAYLOAD_BYTES}). */
  maxPayloadBytes?: number;
}

/** Options of {@linkcode PayloadStore.put}. */
export interface PutOptions {
  /** Never evict this payload (until {@linkcode PayloadStore.unpin}); pinned bytes count. */
  pin?: boolean;
}

interface Entry {
  bytes: Uint8Array;
  pinned: boolean;
}

/** Default {@linkcode PayloadStoreOptions.maxBytes}: 1 GiB. */
export const DEFAULT_STORE_MAX_BYTES = 1024 * 1024 * 1024;

/**
 * Content-addressed payload store with a byte cap and oldest-first eviction.
 *
 * Stored arrays are held as given (not copied); treat them as immutable.
 */
export class PayloadStore implements PayloadSource {
  /** Byte cap. */
  readonly maxBytes: number;
  /** Largest single payload. */
  readonly maxPayloadBytes: number;
  readonly #entries = new Map<string, Entry>(); // insertion order = age
  #bytes = 0;

  /** An empty store; throws `invalid_argument` for non-positive limits. */
  constructor(options: PayloadStoreOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_STORE_MAX_BYTES;
    this.maxPayloadBytes = Math.min(
      options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      this.maxBytes,
    );
    if (!(this.maxBytes > 0) || !(this.maxPayloadBytes > 0)) {
      throw new NetError("invalid_argument", "store limits must be positive");
    }
  }

  /** Number of payloads held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Total bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether a payload is held. Malformed hashes are simply not held. */
  has(hash: PayloadHash): boolean {
    const key = tryHex(hash);
    return key !== null && this.#entries.has(key);
  }

  /** The payload stored under `hash`, or `undefined` (also for malformed hashes). */
  get(hash: PayloadHash): Uint8Array | undefined {
    const key = tryHex(hash);
    return key === null ? undefined : this.#entries.get(key)?.bytes;
  }

  /** Hex hashes of every payload held, oldest first. */
  hashes(): string[] {
    return [...this.#entries.keys()];
  }

  /**
   * Stores `bytes` under `hash` after checking that sha256(bytes) is `hash`. Throws
   * `hash_mismatch` if not, `too_large` if the payload exceeds the per-payload limit or cannot
   * fit beside the pinned payloads. Storing a payload already held only updates its pin.
   * Returns the hex hash.
   */
  async put(hash: PayloadHash, bytes: Uint8Array, options: PutOptions = {}): Promise<string> {
    const key = hashHex(hash);
    this.#checkSize(bytes);
    const actual = hex(await sha256(bytes));
    if (actual !== key) {
      throw new NetError("hash_mismatch", `payload hashes to ${actual}, not ${key}`);
    }
    return this.#insert(key, bytes, options.pin === true);
  }

  /** Stores `bytes` under their sha256 and returns the hex hash. */
  async add(bytes: Uint8Array, options: PutOptions = {}): Promise<string> {
    this.#checkSize(bytes);
    return this.#insert(hex(await sha256(bytes)), bytes, options.pin === true);
  }

  /** Removes a payload; returns whether it was held. */
  delete(hash: PayloadHash): boolean {
    const key = tryHex(hash);
    const entry = key === null ? undefined : this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key!);
    this.#bytes -= entry.bytes.length;
    return true;
  }

  /** Makes a held payload evictable again. */
  unpin(hash: PayloadHash): void {
    const key = tryHex(hash);
    const entry = key === null ? undefined : this.#entries.get(key);
    if (entry !== undefined) entry.pinned = false;
  }

  #checkSize(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) {
      throw new NetError("invalid_argument", "a payload is a Uint8Array");
    }
    if (bytes.length > this.maxPayloadBytes) {
      throw new NetError(
        "too_large",
        `payload of ${bytes.length} bytes exceeds the limit of ${this.maxPayloadBytes}`,
      );
    }
  }

  #insert(key: string, bytes: Uint8Array, pin: boolean): string {
    const existing = this.#entries.get(key);
    if (existing !== undefined) {
      existing.pinned ||= pin;
      return key;
    }
    // Evict oldest unpinned entries until the new one fits; refuse if pinned bytes block it.
    let pinnedBytes = 0;
    for (const e of this.#entries.values()) if (e.pinned) pinnedBytes += e.bytes.length;
    if (pinnedBytes + bytes.length > this.maxBytes) {
      throw new NetError(
        "too_large",
        `payload of ${bytes.length} bytes does not fit beside ${pinnedBytes} pinned bytes ` +
          `(cap ${this.maxBytes})`,
      );
    }
    for (const [k, e] of this.#entries) {
      if (this.#bytes + bytes.length <= this.maxBytes) break;
      if (e.pinned) continue;
      this.#entries.delete(k);
      this.#bytes -= e.bytes.length;
    }
    this.#entries.set(key, { bytes, pinned: pin });
    this.#bytes += bytes.length;
    return key;
  }
}

function tryHex(hash: PayloadHash): string | null {
  try {
    return hashHex(hash);
  } catch {
    return null;
  }
}
