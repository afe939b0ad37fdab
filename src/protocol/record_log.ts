/**
 * The run's history as this node knows it: the signed round records it has verified, by
 * window, kept in a {@linkcode StateStore} (one blob per record, put atomically) and served to
 * others over the sync protocol.
 *
 * @module
 */

import { type Message, type RoundRecord, verifyMessage } from "../codec/messages.ts";
import type { SyncCheckpoint, SyncSource } from "../net/sync_protocol.ts";
import { type RunContext, verifyOptions } from "./run_context.ts";
import type { StateStore } from "./state_store.ts";

/** A verified round record with the exact bytes its validator signed. */
export interface SignedRecord {
  /** The signed message as it travels. */
  bytes: Uint8Array;
  /** Its round record. */
  record: RoundRecord;
  /** Its sender (a genesis validator). */
  sender: string;
}

/**
 * Checks that `bytes` is a round record of this run signed by one of its validators;
 * returns it, or the reason it is not.
 */
export function verifyRecord(ctx: RunContext, bytes: Uint8Array): SignedRecord | string {
  const r = verifyMessage(bytes, verifyOptions(ctx));
  if (!r.ok) return `${r.reason}: ${r.detail}`;
  return asRecord(r.message, bytes) ?? `not a round record (${r.message.body.kind})`;
}

/** The round record of a verified message, or undefined for another kind. */
export function asRecord(m: Message, bytes: Uint8Array): SignedRecord | undefined {
  return m.body.kind === "round-record" ? { bytes, record: m.body, sender: m.sender } : undefined;
}

/** Verified round records by window; a {@linkcode SyncSource} for the sync protocol. */
export class RecordLog implements SyncSource {
  readonly #store: StateStore;
  readonly #byWindow = new Map<number, SignedRecord>();
  #sorted: number[] | null = [];
  /** The checkpoint served with the records (set by the role that makes checkpoints). */
  servedCheckpoint: SyncCheckpoint | null = null;

  private constructor(store: StateStore) {
    this.#store = store;
  }

  /**
   * Opens the log kept in `store` (a `MemoryStore`: memory only). Records that do not verify
   * are quarantined (`*.bad-<time>`) and reported through `warn`, never used.
   */
  static async open(
    ctx: RunContext,
    store: StateStore,
    warn: (line: string) => void = () => {},
  ): Promise<RecordLog> {
    const log = new RecordLog(store);
    for (const name of await store.list()) {
      if (!name.endsWith(".msg")) continue;
      const bytes = await store.get(name);
      if (bytes === null) continue; // removed meanwhile
      const got = verifyRecord(ctx, bytes);
      if (typeof got === "string") {
        const moved = await store.quarantine(name);
        warn(`${store.where}/${name}: ${got}; moved to ${store.where}/${moved}`);
        continue;
      }
      log.#byWindow.set(got.record.window, got);
    }
    log.#sorted = null;
    return log;
  }

  /** How many records it holds. */
  get size(): number {
    return this.#byWindow.size;
  }

  /** The record of window `w`, if known. */
  get(w: number): SignedRecord | undefined {
    return this.#byWindow.get(w);
  }

  /** The newest record, if any. */
  latest(): SignedRecord | undefined {
    const ws = this.#windows();
    return ws.length === 0 ? undefined : this.#byWindow.get(ws[ws.length - 1]);
  }

  /** Records with window > `w`, ascending. */
  after(w: number): SignedRecord[] {
    return this.#windows().filter((x) => x > w).map((x) => this.#byWindow.get(x)!);
  }

  /**
   * Keeps a verified record (persisted before this resolves). Returns false when a record of
   * that window is already known (the first one stays: a validator signs one per window).
   */
  async add(r: SignedRecord): Promise<boolean> {
    const w = r.record.window;
    if (this.#byWindow.has(w)) return false;
    await this.#store.put(`${String(w).padStart(10, "0")}.msg`, r.bytes);
    this.#byWindow.set(w, r);
    this.#sorted = null;
    return true;
  }

  /** {@linkcode SyncSource}: signed records with window ≥ `fromWindow`, at most `max`. */
  records(fromWindow: number, max: number): Uint8Array[] {
    return this.after(fromWindow - 1).slice(0, max).map((r) => r.bytes);
  }

  /** {@linkcode SyncSource}: the newest checkpoint served. */
  checkpoint(): SyncCheckpoint | null {
    return this.servedCheckpoint;
  }

  #windows(): number[] {
    if (this.#sorted === null) this.#sorted = [...this.#byWindow.keys()].sort((a, b) => a - b);
    return this.#sorted;
  }
}
