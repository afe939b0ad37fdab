/**
 * The deterministic data sampler: the batch of peer p at window w, inner step s, depends on
 * nothing but (seed, p, w, s) and the token stream, so a validator can rebuild any peer's
 * assigned batch and check that the peer trained on it (GAUNTLET.md).
 *
 * @module
 */

import { DataError } from "./errors.ts";
import { mixSeed, Rng } from "../util/rng.ts";

/** Shape and seed of the batches a {@linkcode Sampler} draws. */
export interface SamplerOptions {
  /** B: sequences per batch. */
  batch: number;
  /** T: tokens per sequence (the model's context length). */
  context: number;
  /** The run's data seed (uint32). */
  seed: number;
  /**
   * Span mode (genesis `data.span`): every batch of peer p in window w is drawn from one
   * stretch of this many consecutive tokens, at a start chosen by (seed, p, w), so the data
   * a peer was given in a window is recognisable by its content (the assignment test). Absent:
   * every sequence at a uniform offset of the whole stream. At least T + 1; a span longer than
   * the stream is the whole stream.
   */
  span?: number;
}

/** One batch: `inputs[b*T + t]` is followed by `targets[b*T + t]` in the corpus. */
export interface Batch {
  /** (B, T) input ids, row-major. */
  inputs: Uint32Array;
  /** (B, T) target ids: the inputs shifted by one token. */
  targets: Uint32Array;
}

// Separates evaluation draws from training draws (which mix four values, not three).
const EVAL_DOMAIN = 0x45564131; // "EVA1"
// Separates span starts (five values mixed) from both.
const SPAN_DOMAIN = 0x5350414e; // "SPAN"

/**
 * Draws batches of B sequences of T+1 consecutive tokens at offsets drawn from
 * `new Rng(mixSeed(seed, peer, window, step))`, uniform over the stream or, in span mode,
 * over the window's span of the peer. Integer arithmetic only, so the same arguments give
 * the same batch on every runtime.
 *
 * @example
 * ```ts
 * const s = new Sampler(tokens, { batch: 8, context: 256, seed: 1 });
 * const { inputs, targets } = s.batch(peer, window, step); // each 8 * 256 ids
 * ```
 */
export class Sampler {
  /** The token stream batches are drawn from. */
  readonly tokens: Uint32Array;
  /** B. */
  readonly batchSize: number;
  /** T. */
  readonly context: number;
  /** The run's data seed. */
  readonly seed: number;
  /** Tokens of one peer's span of a window (at most the stream's length), or null: no spans. */
  readonly span: number | null;

  /**
   * Throws {@linkcode DataError} when the stream has fewer than T+1 tokens or the batch,
   * context, seed or span is not a valid integer (they come from the run's configuration).
   */
  constructor(tokens: Uint32Array, opts: SamplerOptions) {
    for (const key of ["batch", "context"] as const) {
      const x = opts[key];
      if (!Number.isSafeInteger(x) || x < 1) {
        throw new DataError(`${key} must be an integer ≥ 1, got ${x}`);
      }
    }
    if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) {
      throw new DataError(`seed must be an integer in [0, 2^32), got ${opts.seed}`);
    }
    if (tokens.length < opts.context + 1) {
      throw new DataError(
        `corpus has ${tokens.length} tokens, need at least ${opts.context + 1} ` +
          `for context ${opts.context}`,
      );
    }
    this.tokens = tokens;
    this.batchSize = opts.batch;
    this.context = opts.context;
    this.seed = opts.seed >>> 0;
    if (opts.span !== undefined && !(Number.isSafeInteger(opts.span) && opts.span > opts.context)) {
      throw new DataError(
        `span must be an integer ≥ context + 1 (${opts.context + 1}), got ${opts.span}`,
      );
    }
    this.span = opts.span === undefined ? null : Math.min(opts.span, tokens.length);
  }

  /**
   * The sampler of a run's peers over `tokens`: batch, seed and span from the genesis' data,
   * the model's context. One place, so no role or Worker can leave the span out (one that did
   * made every honest peer look trained on other data).
   */
  static ofRun(
    tokens: Uint32Array,
    run: { data: { batch: number; seed: number; span?: number }; model: { context: number } },
  ): Sampler {
    const { batch, seed, span } = run.data;
    return new Sampler(tokens, { batch, context: run.model.context, seed, span });
  }

  /** The batch assigned to `peer` at `window`, inner `step` (each a uint32). */
  batch(peer: number, window: number, step: number): Batch {
    checkU32("peer", peer);
    checkU32("window", window);
    checkU32("step", step);
    const rng = new Rng(mixSeed(this.seed, peer, window, step));
    return this.span === null
      ? this.draw(rng, 0, this.tokens.length)
      : this.draw(rng, this.spanStart(peer, window), this.span);
  }

  /** First token of `peer`'s span in `window` (span mode only). */
  spanStart(peer: number, window: number): number {
    if (this.span === null) throw new RangeError("spanStart: the sampler has no spans");
    const rng = new Rng(mixSeed(this.seed, SPAN_DOMAIN, peer, window, 0));
    return rng.int(this.tokens.length - this.span + 1);
  }

  /**
   * A fixed evaluation batch: the same for every peer and window, different for each
   * `index`, and independent of every `batch(peer, window, step)`. Draw it from a sampler
   * over the validation split (see {@linkcode splitTokens}) to measure held-out loss.
   */
  evalBatch(index = 0): Batch {
    checkU32("index", index);
    return this.draw(new Rng(mixSeed(this.seed, EVAL_DOMAIN, index)), 0, this.tokens.length);
  }

  /** B sequences at offsets from `rng` within the `length` tokens from `from` on. */
  private draw(rng: Rng, from: number, length: number): Batch {
    const B = this.batchSize, T = this.context;
    const inputs = new Uint32Array(B * T);
    const targets = new Uint32Array(B * T);
    // Offsets from .. from+length-T-1: each sequence needs T+1 tokens.
    const starts = length - T;
    for (let b = 0; b < B; b++) {
      const off = from + rng.int(starts);
      inputs.set(this.tokens.subarray(off, off + T), b * T);
      targets.set(this.tokens.subarray(off + 1, off + T + 1), b * T);
    }
    return { inputs, targets };
  }
}

/**
 * Splits a token stream into a training part and the last `validFraction` (default 10%)
 * for validation. Both are views of `tokens`, not copies.
 */
export function splitTokens(
  tokens: Uint32Array,
  validFraction = 0.1,
): { train: Uint32Array; valid: Uint32Array } {
  if (!(validFraction >= 0 && validFraction < 1)) {
    throw new RangeError(`validFraction must be in [0, 1), got ${validFraction}`);
  }
  const cut = tokens.length - Math.floor(tokens.length * validFraction);
  return { train: tokens.subarray(0, cut), valid: tokens.subarray(cut) };
}

function checkU32(name: string, x: number): void {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) {
    throw new RangeError(`${name} must be an integer in [0, 2^32), got ${x}`);
  }
}
