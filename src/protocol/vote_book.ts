/**
 * A validator's votes (a genesis `quorum`, docs/VALIDATORS.md), kept in a
 * {@linkcode StateStore} (one blob per window, put atomically and durably: fsync of the file
 * and its folder) before the vote is signed and sent — so a validator restarted from its data
 * directory, or two proposals arriving at once, can never break these two rules:
 *
 * - **one vote per window** (any record, even the same one twice is one vote);
 * - **one live vote per head**: a validator whose head is `head` (after the record of window
 *   `applied`) votes for a record starting from `head` only if it holds no vote for another
 *   record from that head in a window after `applied` that may still count. Without this, a
 *   validator that voted for record w, missed its certificate and went on could vote for a
 *   record w + 1 from the same head; both could then reach a quorum (the certificate of w
 *   made late from votes sent in time), and nodes that had applied w + 1 and nodes that then
 *   got w would hold different heads for good. A vote stops holding the validator back once
 *   its window is past its head, or once the caller can show the window can never count
 *   (`released`: the votes seen for it leave no record a quorum).
 *
 * Each blob is the record hash (32 bytes) and the head the record starts from (32 bytes);
 * one of 32 bytes (kept before the second rule) names no head and holds back any head.
 *
 * @module
 */

import { bytesEqual } from "../util/bytes.ts";
import type { StateStore } from "./state_store.ts";

/** A kept vote: its window, the record hash and the head the record starts from (null: unknown). */
export interface KeptVote {
  /** The window voted in. */
  window: number;
  /** SHA-256 of the signed record voted for. */
  recordHash: Uint8Array;
  /** The head the record starts from (null for a vote kept before heads were written). */
  head: Uint8Array | null;
}

/** Where a vote is cast from: the voter's head and the window of the record that made it. */
export interface VoteFrom {
  /** The voter's head, which the record starts from. */
  head: Uint8Array;
  /** The window of the last record applied (−1: none). */
  applied: number;
  /** True for a window whose records can never count any more (the votes seen for it show it). */
  released?: (window: number) => boolean;
  /**
   * The voter's head and last applied window as they are when the vote is taken, read under
   * the book's lock. A caller that checked a record for seconds (payloads fetched, the model
   * stepped) may have voted for, and applied, another record from `head` meanwhile: a vote
   * from `head` then is refused unless `head` is still the voter's head and `window` is after
   * its applied window — `head` and `applied` computed before the check would let the vote
   * kept for the record applied meanwhile be skipped (its window ≤ `applied`), and two records
   * from one head both get this validator's vote (a fork, docs/VALIDATORS.md).
   */
  current?: () => { head: Uint8Array; applied: number };
}

/** One vote per window and one live vote per head, persisted. */
export class VoteBook {
  readonly #store: StateStore;
  /** Serializes check-and-write: concurrent `take`s of a window, one wins. */
  #lock: Promise<unknown> = Promise.resolve();
  /** The kept votes by window, read from the store at first use. */
  #kept: Map<number, KeptVote> | null = null;

  /** The votes kept in `store` (e.g. the data directory's `votes/`). */
  constructor(store: StateStore) {
    this.#store = store;
  }

  /**
   * Records the vote for `recordHash` in `window` and returns true, unless a vote of that
   * window is kept already, or (with `from`) a vote that holds the validator back from that
   * head ({@linkcode holding}), or (with `from.current`) the voter's head is no longer
   * `from.head` or has reached `window`: then false, nothing written.
   */
  take(window: number, recordHash: Uint8Array, from?: VoteFrom): Promise<boolean> {
    const run = this.#lock.then(async () => {
      const kept = await this.#all();
      if (kept.has(window)) return false;
      let by = from;
      if (by?.current !== undefined) {
        // Synchronously with the check below and the write's place in the lock: no vote can be
        // taken, nor a head move be missed, between reading the head and keeping this vote.
        const now = by.current();
        if (!bytesEqual(now.head, by.head) || window <= now.applied) return false;
        by = { ...by, applied: now.applied };
      }
      if (by !== undefined && holdingIn(kept, by, window) !== null) return false;
      const head = by?.head ?? null;
      const blob = head === null ? recordHash : concat(recordHash, head);
      // Durable, not only atomic: a vote sent and then lost to a power cut would let the
      // restarted validator vote again in the window.
      await this.#store.put(nameOf(window), blob, { durable: true });
      kept.set(window, { window, recordHash: recordHash.slice(), head: head?.slice() ?? null });
      return true;
    });
    this.#lock = run.catch(() => {});
    return run;
  }

  /** The record hash voted for in `window`, or null. */
  async voted(window: number): Promise<Uint8Array | null> {
    await this.#lock;
    return (await this.#all()).get(window)?.recordHash ?? null;
  }

  /**
   * The kept vote that stops a vote from `from` for another record than its own (in another
   * window): the earliest one after `from.applied` from that head, not released; or null.
   */
  async holding(from: VoteFrom): Promise<KeptVote | null> {
    await this.#lock;
    return holdingIn(await this.#all(), from, undefined);
  }

  /** The kept votes from `from.head` (or no head) in windows after `from.applied`, oldest first. */
  async keptFrom(from: VoteFrom): Promise<KeptVote[]> {
    await this.#lock;
    return [...(await this.#all()).values()]
      .filter((v) => v.window > from.applied && (v.head === null || bytesEqual(v.head, from.head)))
      .sort((a, b) => a.window - b.window);
  }

  /** Forgets the votes of windows before `window` (a validator never votes at or below its head). */
  async prune(window: number): Promise<void> {
    await this.#lock;
    const kept = await this.#all();
    for (const name of await this.#store.list()) {
      const m = /^(\d{10})\.vote$/.exec(name);
      if (m !== null && Number(m[1]) < window) {
        await this.#store.delete(name);
        kept.delete(Number(m[1]));
      }
    }
  }

  async #all(): Promise<Map<number, KeptVote>> {
    if (this.#kept !== null) return this.#kept;
    const kept = new Map<number, KeptVote>();
    for (const name of await this.#store.list()) {
      const m = /^(\d{10})\.vote$/.exec(name);
      const blob = m === null ? null : await this.#store.get(name);
      if (m === null || blob === null) continue;
      const window = Number(m[1]);
      kept.set(window, {
        window,
        recordHash: blob.slice(0, 32),
        head: blob.length >= 64 ? blob.slice(32, 64) : null,
      });
    }
    return this.#kept = kept;
  }
}

/** The earliest kept vote (not in `except`) holding back votes from `from`, or null. */
function holdingIn(
  kept: Map<number, KeptVote>,
  from: VoteFrom,
  except: number | undefined,
): KeptVote | null {
  let found: KeptVote | null = null;
  for (const v of kept.values()) {
    if (v.window <= from.applied || v.window === except) continue;
    if (v.head !== null && !bytesEqual(v.head, from.head)) continue;
    if (from.released?.(v.window)) continue;
    if (found === null || v.window < found.window) found = v;
  }
  return found;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function nameOf(window: number): string {
  return `${String(window).padStart(10, "0")}.vote`;
}
