/**
 * The model as a hash chain of round records: θ₀ from the genesis, then each record's
 * aggregate. Validators compute the next link; peers and joiners check it. Aggregation and the
 * outer step run in plain TypeScript on Float32Arrays in a fixed order, so every runtime gets
 * the same bits (SPARSELOCO.md, DESIGN.md "Determinism").
 *
 * Which θ a record moves from, and which θ its updates were trained from, depends on the
 * genesis' outer delay (`rounds.outerDelay`, {@linkcode outerDelayOf}):
 * - 0 (default): updates of window w are trained from θ_w, the head after record w − 1;
 *   record w moves the head θ_w → θ_{w+1} = θ_w + A_w.
 * - 1 (overlapped): updates of window w are trained from θ_w, the head after record w − 2;
 *   record w moves the head from θ_{w+1} (after record w − 1) to θ_{w+2} = θ_{w+1} + A_w. Its
 *   updates' base is therefore the head before record w − 1 — the model hash that record w − 1
 *   itself names as its start — so peers train window w + 1 while window w is scored.
 * In both modes a record's `modelHash` is the head it starts from and `nextModelHash` the
 * head it makes: replay (joiners, restarts, checkpoints) is the same walk.
 *
 * @module
 */

import { decodeUpdate, type Update } from "../codec/update_codec.ts";
import { applyAggregate, type PeerUpdate } from "../optim/sparseloco/model_round.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import type { RoundRecord } from "../codec/messages.ts";
import { modelHash } from "../codec/model_hash.ts";
import { type RunContext, updateLimits } from "./run_context.ts";
import { outerDelayOf } from "./genesis.ts";

/** Why the chain refused a record or an update. */
export type ChainErrorCode =
  /** The record starts from another model than this chain's head (we are behind or forked). */
  | "wrong-base"
  /** The record's window is not after the last one applied. */
  | "old-window"
  /** A payload does not hash to what the record names. */
  | "payload-hash"
  /** A payload does not decode or does not fit this run and window. */
  | "bad-update"
  /** Our result differs from the record's next-model hash. */
  | "hash-mismatch";

/** A refused record or update; the chain is unchanged. */
export class ChainError extends Error {
  /** "ChainError". */
  override name = "ChainError";
  /** What went wrong. */
  readonly code: ChainErrorCode;
  constructor(code: ChainErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** One selected contributor's payload. */
export interface ContributionBytes {
  /** SS58 address of the contributor (fixes its place in the summation order). */
  address: string;
  /** The encoded update. */
  bytes: Uint8Array;
}

/** A computed next link, not yet applied. */
export interface NextModel {
  /** θ_{w+1}. */
  params: Float32Array;
  /** Its hash. */
  hash: Uint8Array;
}

/** Fetches a payload by its SHA-256 (hex); the caller's fetch verifies or this chain does. */
export type PayloadFetcher = (hashHex: string) => Promise<Uint8Array>;

/** The model head of a run and the rules for moving it. */
export class ModelChain {
  /** The run. */
  readonly ctx: RunContext;
  /** Windows between an update's window and the record applying it (the genesis'). */
  readonly outerDelay: 0 | 1;
  /**
   * The `modelHash` of the known record of a window (the role's record log): with outer delay
   * 1 it names the head before that record, the base of the next window's updates, after a
   * restart or a checkpoint when this chain did not make that step itself.
   */
  recordBase: (window: number) => Uint8Array | undefined = () => undefined;
  #params: Float32Array;
  #hash: Uint8Array;
  #applied: number;
  /** Outer delay 1: the head before the last commit (the validator scores on it). */
  #prev: NextModel | null = null;

  private constructor(ctx: RunContext, params: Float32Array, hash: Uint8Array, applied: number) {
    this.ctx = ctx;
    this.outerDelay = outerDelayOf(ctx.genesis);
    this.#params = params;
    this.#hash = hash;
    this.#applied = applied;
  }

  /**
   * A chain whose head is `params`, the model after the round record of window `applied`
   * (−1: θ₀, nothing applied yet).
   */
  static async at(ctx: RunContext, params: Float32Array, applied: number): Promise<ModelChain> {
    if (params.length !== ctx.layout.length) {
      throw new RangeError(`params: ${params.length} floats, the layout has ${ctx.layout.length}`);
    }
    return new ModelChain(ctx, params, await modelHash(params), applied);
  }

  /** The head θ (do not modify; copy to train). */
  get params(): Float32Array {
    return this.#params;
  }

  /** Hash of the head. */
  get hash(): Uint8Array {
    return this.#hash;
  }

  /** Hash of the head, hex. */
  get hashHex(): string {
    return hex(this.#hash);
  }

  /** Window of the last record applied (−1: none). */
  get applied(): number {
    return this.#applied;
  }

  /**
   * The hash of the model updates of `window` must be trained from: the head (outer delay 0,
   * or delay 1 while record `window` − 1 is not applied), else the head before record
   * `window` − 1 — undefined when that is not known (a later record is applied, or a restarted
   * chain without the record).
   */
  baseHash(window: number): Uint8Array | undefined {
    if (this.outerDelay === 0 || this.#applied < window - 1 || this.#applied < 0) return this.#hash;
    if (this.#applied > window - 1) return undefined;
    return this.#prev?.hash ?? this.recordBase(this.#applied);
  }

  /**
   * The model updates of `window` are trained from, as {@linkcode baseHash}: the head, or with
   * outer delay 1 the head before the last commit when this chain made it (undefined after a
   * restart: a validator then cannot score that window).
   */
  baseParams(window: number): Float32Array | undefined {
    const h = this.baseHash(window);
    if (h === undefined) return undefined;
    if (h === this.#hash) return this.#params;
    return this.#prev !== null && hex(this.#prev.hash) === hex(h) ? this.#prev.params : undefined;
  }

  /**
   * Decodes and checks one update for `window`, trained from {@linkcode baseHash}`(window)`.
   * Throws `bad-update`.
   */
  checkUpdate(bytes: Uint8Array, window: number): Update {
    const base = this.baseHash(window);
    if (base === undefined) {
      throw new ChainError(
        "bad-update",
        `the base model of window ${window} is not known here (head after window ${this.#applied})`,
      );
    }
    try {
      return decodeUpdate(bytes, updateLimits(this.ctx, window, base));
    } catch (e) {
      throw new ChainError("bad-update", (e as Error).message, { cause: e });
    }
  }

  /**
   * The next head from the head and the selected contributions of window `window` (θ_{w+1},
   * or θ_{w+2} with outer delay 1; the validator's step; peers get the same through
   * {@linkcode applyRecord}). The head is unchanged.
   */
  async next(window: number, contributions: readonly ContributionBytes[]): Promise<NextModel> {
    const seen = new Set<string>();
    const updates: PeerUpdate[] = contributions.map((c) => {
      if (seen.has(c.address)) {
        throw new ChainError(
          "bad-update",
          `two contributions from ${c.address} in window ${window}`,
        );
      }
      seen.add(c.address);
      let tensors;
      try {
        tensors = this.checkUpdate(c.bytes, window).tensors;
      } catch (e) {
        throw new ChainError("bad-update", `update of ${c.address}: ${(e as Error).message}`);
      }
      return { peer: c.address, tensors };
    });
    const params = Float32Array.from(this.#params);
    applyAggregate(params, this.ctx.tensors, updates, { alpha: this.ctx.genesis.sparseloco.alpha });
    return { params, hash: await modelHash(params) };
  }

  /** Makes `next` the head, as the result of window `window`'s record. */
  commit(window: number, next: NextModel): void {
    if (window <= this.#applied) {
      throw new ChainError("old-window", `window ${window} is not after ${this.#applied}`);
    }
    if (this.outerDelay === 1) this.#prev = { params: this.#params, hash: this.#hash };
    this.#params = next.params;
    this.#hash = next.hash;
    this.#applied = window;
  }

  /** Replaces the head (a verified checkpoint of the model after window `applied`'s record). */
  async reset(params: Float32Array, applied: number): Promise<void> {
    if (params.length !== this.ctx.layout.length) {
      throw new RangeError(
        `params: ${params.length} floats, the layout has ${this.ctx.layout.length}`,
      );
    }
    this.#params = params;
    this.#hash = await modelHash(params);
    this.#applied = applied;
    this.#prev = null;
  }

  /**
   * Applies a verified round record: fetches its payloads, checks each hash, aggregates, and
   * moves the head only if the result hashes to the record's next-model hash. Throws
   * {@linkcode ChainError} (head unchanged) otherwise.
   */
  async applyRecord(record: RoundRecord, fetch: PayloadFetcher): Promise<void> {
    this.commit(record.window, await this.prepareRecord(record, fetch));
  }

  /**
   * Everything {@linkcode applyRecord} does but moving the head: the checked next head, to
   * {@linkcode commit} later (a peer with outer delay 1 prepares record w while it trains
   * window w + 1 and commits it at the boundary). Valid while the head does not move.
   */
  async prepareRecord(record: RoundRecord, fetch: PayloadFetcher): Promise<NextModel> {
    if (record.window <= this.#applied) {
      throw new ChainError(
        "old-window",
        `record of window ${record.window}, already at ${this.#applied}`,
      );
    }
    if (hex(record.modelHash) !== this.hashHex) {
      throw new ChainError(
        "wrong-base",
        `record of window ${record.window} starts from ${short(record.modelHash)}, ` +
          `this model is ${short(this.#hash)}`,
      );
    }
    const contributions = await Promise.all(record.contributors.map(async (c) => {
      const want = hex(c.payloadHash);
      const bytes = await fetch(want);
      const got = hex(await sha256(bytes));
      if (got !== want) {
        throw new ChainError(
          "payload-hash",
          `payload of ${c.address} hashes to ${got.slice(0, 12)}, not ${want.slice(0, 12)}`,
        );
      }
      return { address: c.address, bytes };
    }));
    const next = await this.next(record.window, contributions);
    if (hex(next.hash) !== hex(record.nextModelHash)) {
      throw new ChainError(
        "hash-mismatch",
        `window ${record.window}: my model hash is ${short(next.hash)}, the record says ` +
          `${short(record.nextModelHash)}`,
      );
    }
    return next;
  }
}

function short(h: Uint8Array): string {
  return hex(h).slice(0, 12);
}
