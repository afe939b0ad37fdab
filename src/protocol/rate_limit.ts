/**
 * A per-identity rate limit (token bucket) for gossip: one key that floods valid, signed
 * messages would otherwise cost every node CPU per message. Over the limit a message is
 * refused, and the offender is reported once per `reportEveryMs`, not once per message, so a
 * flood cannot flood the log either. The table is bounded: the least recently seen identity is
 * forgotten first (a fresh bucket is full, so forgetting favours nobody).
 *
 * @module
 */

/** Limits of one rate limiter. */
export interface RateLimitOptions {
  /** Sustained messages per second per identity. */
  perSecond: number;
  /** Messages an identity may send at once after a quiet spell. */
  burst: number;
  /** Identities remembered at most. */
  maxKeys: number;
  /** Least time between two reports of one offender (ms). */
  reportEveryMs: number;
}

/** Gossip defaults: an honest role sends a few messages a second at most. */
export const GOSSIP_RATE_LIMIT: Readonly<RateLimitOptions> = Object.freeze({
  perSecond: 4,
  burst: 20,
  maxKeys: 10_000,
  reportEveryMs: 10_000,
});

/** What {@linkcode RateLimiter.take} decided. */
export type RateVerdict =
  | { ok: true }
  /** `report`: true when this refusal should be logged; `dropped`: refusals since the last report. */
  | { ok: false; report: boolean; dropped: number };

interface Bucket {
  tokens: number;
  at: number;
  dropped: number;
  reportedAt: number;
}

/** Token buckets by identity. */
export class RateLimiter {
  readonly #o: RateLimitOptions;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions = GOSSIP_RATE_LIMIT) {
    if (!(options.perSecond > 0) || !(options.burst >= 1) || !(options.maxKeys >= 1)) {
      throw new RangeError("rate limit: perSecond > 0, burst ≥ 1 and maxKeys ≥ 1 are required");
    }
    this.#o = options;
  }

  /** Spends one message of `key` at time `now` (ms). */
  take(key: string, now: number): RateVerdict {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.#o.burst, at: now, dropped: 0, reportedAt: -Infinity };
      if (this.#buckets.size >= this.#o.maxKeys) {
        this.#buckets.delete(this.#buckets.keys().next().value!);
      }
    } else this.#buckets.delete(key); // re-insert: Map order is recency order
    this.#buckets.set(key, b);
    b.tokens = Math.min(this.#o.burst, b.tokens + Math.max(0, now - b.at) * this.#o.perSecond / 1000);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    b.dropped++;
    if (now - b.reportedAt < this.#o.reportEveryMs) return { ok: false, report: false, dropped: b.dropped };
    const dropped = b.dropped;
    b.reportedAt = now;
    b.dropped = 0;
    return { ok: false, report: true, dropped };
  }

  /** Identities remembered now. */
  get size(): number {
    return this.#buckets.size;
  }
}
