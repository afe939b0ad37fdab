/**
 * A validator's votes (a genesis `quorum`, docs/VALIDATORS.md): at most one record hash per
 * window, kept in a {@linkcode StateStore} (one blob per window, put atomically and durably:
 * fsync of the file and its folder) before the vote is signed and sent — so a validator restarted from its data directory, or two proposals
 * arriving at once, can never make it vote twice in a window.
 *
 * @module
 */

import type { StateStore } from "./state_store.ts";

/** One vote per window, persisted. */
export class VoteBook {
  readonly #store: StateStore;
  /** Serializes check-and-write: concurrent `take`s of a window, one wins. */
  #lock: Promise<unknown> = Promise.resolve();

  /** The votes kept in `store` (e.g. the data directory's `votes/`). */
  constructor(store: StateStore) {
    this.#store = store;
  }

  /**
   * Records the vote for `recordHash` in `window` and returns true, unless a vote of that
   * window is kept already (any record, even the same one): then false, nothing written.
   */
  take(window: number, recordHash: Uint8Array): Promise<boolean> {
    const run = this.#lock.then(async () => {
      if (await this.#store.get(nameOf(window)) !== null) return false;
      // Durable, not only atomic: a vote sent and then lost to a power cut would let the
      // restarted validator vote again in the window.
      await this.#store.put(nameOf(window), recordHash, { durable: true });
      return true;
    });
    this.#lock = run.catch(() => {});
    return run;
  }

  /** The record hash voted for in `window`, or null. */
  async voted(window: number): Promise<Uint8Array | null> {
    await this.#lock;
    return await this.#store.get(nameOf(window));
  }

  /** Forgets the votes of windows before `window` (a validator never votes at or below its head). */
  async prune(window: number): Promise<void> {
    for (const name of await this.#store.list()) {
      const m = /^(\d{10})\.vote$/.exec(name);
      if (m !== null && Number(m[1]) < window) await this.#store.delete(name);
    }
  }
}

function nameOf(window: number): string {
  return `${String(window).padStart(10, "0")}.vote`;
}
