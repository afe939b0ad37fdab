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

/**
 * Draws batches of B sequences of T+1 consecutive tokens at offsets drawn from
 * `new Rng(mixSeed(seed, peer, window, step))`. Integer arithmetic only, so the same
 * arguments give the same batch on every runtime.
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

  /**
   * Throws {@linkcode DataError} when the stream has fewer than T+1 tokens or the batch,
   * context or seed is not a valid integer (they come from the run's configuration).
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
  }

  /** The batch assigned to `peer` at `window`, inner `step` (each a uint32). */
  batch(peer: number, window: number, step: number): Batch {
    checkU32("peer", peer);
    checkU32("window", window);
    checkU32("step", step);
    return this.draw(new Rng(mixSeed(this.seed, peer, window, step)));
  }

  /**
   * A fixed evaluation batch: the same for every peer and window, different for each
   * `index`, and independent of every `batch(peer, window, step)`. Draw it from a sampler
   * over the validation split (see {@linkcode splitTokens}) to measure held-out loss.
   */
  evalBatch(index = 0): Batch {
    checkU32("index", index);
    return this.draw(new Rng(mixSeed(this.seed, EVAL_DOMAIN, index)));
  }

  private draw(rng: Rng): Batch {
    const B = this.batchSize, T = this.context;
    const inputs = new Uint32Array(B * T);
    const targets = new Uint32Array(B * T);
    // Offsets 0 .. N-T-1: each sequence needs T+1 tokens.
    const starts = this.tokens.length - T;
    for (let b = 0; b < B; b++) {
      const off = rng.int(starts);
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
