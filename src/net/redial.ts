/**
 * When a node dials a peer again: after a failed dial, and after a lost connection that had not
 * stayed up for {@linkcode STABLE_MS}, the wait doubles from {@linkcode REDIAL_BASE_MS} up to a
 * cap; a connection that stayed up that long resets it. A dial that succeeds is not enough: a
 * peer that accepts and then drops every connection (full, misconfigured, refusing this run)
 * would otherwise be dialled again every second for as long as the node runs.
 *
 * @module
 */

import type { Multiaddr } from "@multiformats/multiaddr";

/** The first re-dial waits this long; each failure doubles the wait (ms). */
export const REDIAL_BASE_MS = 1_000;

/** A connection up this long counts as a success: the next loss waits the base time (ms). */
export const STABLE_MS = 10_000;

/** The redial state of one peer (a kept or bootstrap peer, one from the address book). */
export class Redial {
  /** Addresses to dial besides the book's (a bootstrap multiaddr), with /p2p/. */
  readonly explicit: Multiaddr[];
  /** Not before this time (ms). */
  next = 0;
  /** A dial is in flight. */
  dialing = false;
  /** The longest wait between dials (ms); 0: dialled once, never again. */
  readonly #maxMs: number;
  #failures = 0;
  /** Since when the peer has been connected (ms), or null while it is not. */
  #upSince: number | null = null;

  constructor(maxMs: number, explicit: Multiaddr[] = []) {
    this.#maxMs = maxMs;
    this.explicit = explicit;
  }

  /** Consecutive failed dials and short-lived connections. */
  get failures(): number {
    return this.#failures;
  }

  /** Whether a dial may start now. */
  due(now: number): boolean {
    return !this.dialing && now >= this.next;
  }

  /** A dial starts. */
  dialStarted(): void {
    this.dialing = true;
    if (this.#maxMs === 0) this.next = Infinity;
  }

  /** The dial in flight ended: connected, or not (the next one waits longer). */
  dialEnded(now: number, connected: boolean): void {
    this.dialing = false;
    // A new connection starts now: a loss reported before the dial resolved left no open one
    // whose start should count (`??=` would keep a stale start and reset the backoff).
    if (connected) this.#upSince = now;
    else this.#backOff(now);
  }

  /**
   * The peer is connected (dialled by this node or by itself); one connected for
   * {@linkcode STABLE_MS} resets the backoff.
   */
  connected(now: number): void {
    this.#upSince ??= now;
    if (now - this.#upSince >= STABLE_MS) this.#failures = 0;
  }

  /** The connection was lost: re-dial after the base wait, or longer if it was short-lived. */
  lost(now: number): void {
    const up = this.#upSince;
    this.#upSince = null;
    if (this.#maxMs === 0) return;
    if (up !== null && now - up >= STABLE_MS) {
      this.#failures = 0;
      this.next = now + REDIAL_BASE_MS;
    } else this.#backOff(now);
  }

  #backOff(now: number): void {
    this.#failures++;
    if (this.#maxMs > 0) {
      this.next = now + Math.min(this.#maxMs, REDIAL_BASE_MS * 2 ** (this.#failures - 1));
    }
  }
}
