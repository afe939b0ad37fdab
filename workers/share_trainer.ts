/**
 * The browser's share of a window: how many inner steps a tab takes, from what it measured,
 * never a constant. A tab is often slower than the run's Deno peers and also compresses and
 * encodes its update (and fetches and aggregates the round before the next window) on the same
 * cores, so training until the window's end would make its announcement late. The share is
 *
 *   steps = clamp(⌊(window − compress − reserve) / step⌋, 1, H)
 *
 * with `step` and `compress` measured: first by a short benchmark before the tab joins (one
 * inner step and one compression on θ₀, on the tab's backend), then by every window it
 * trains (a moving median of the step times, the last compression). When the share is short of
 * H the tab stops there and announces what it has, as every peer does at a window's end.
 *
 * @module
 */
import type { Ops } from "../src/backend/ops.ts";
import type { Sampler } from "../src/data/sampler.ts";
import type { QuantizedTensor } from "../src/reference/sparseloco/compress.ts";
import type { RunContext } from "../src/protocol/run_context.ts";
import { type StepInfo, type WindowResult, WindowTrainer } from "../src/roles/window_trainer.ts";

/** Part of a window kept free of training for the network: fetching, aggregating, gossip. */
export const NETWORK_RESERVE = 0.15;

/** Step times kept for the median. */
const KEEP = 16;

/** What the tab measured and the share it takes. */
export interface Share {
  /** Median inner-step time (ms). */
  stepMs: number;
  /** Last compression time (ms). */
  compressMs: number;
  /** Inner steps it takes per window. */
  steps: number;
  /** The run's H. */
  of: number;
  /** "benchmark" before joining, "measured" once it trained a window. */
  from: "benchmark" | "measured";
}

/** A {@linkcode WindowTrainer} that stops at its measured share of the window. */
export class ShareTrainer<T> extends WindowTrainer<T> {
  readonly #ctx: RunContext;
  readonly #steps: number[] = [];
  #compressMs = 0;
  #from: Share["from"] = "benchmark";
  readonly #onShare: (s: Share) => void;

  constructor(
    ctx: RunContext,
    ops: Ops<T>,
    sampler: Sampler,
    peer: number,
    onShare: (s: Share) => void,
  ) {
    super(ctx, ops, sampler, peer);
    this.#ctx = ctx;
    this.#onShare = onShare;
  }

  /**
   * Measures one inner step and one compression on θ₀ (window 0's batches; nothing is sent)
   * and returns the share they give. Call before the role starts: the role's first window
   * loads its own θ again.
   */
  async benchmark(theta: Float32Array): Promise<Share> {
    // Exactly one step (with θ's upload: a slight overestimate): a clock that reads "long
    // before the deadline" until the step is done, then "past it".
    let done = false;
    this.#last = performance.now();
    await super.train(theta, 0, 0, () => {
      this.#time();
      done = true;
    }, () => done ? Infinity : -Infinity);
    const t0 = performance.now();
    await super.compress();
    this.#compressMs = performance.now() - t0;
    // The benchmark's Δ must not leak into the first real update's error feedback.
    this.loadError(new Float32Array(this.#ctx.layout.length));
    return this.share();
  }

  /** The share from what was measured so far. */
  share(): Share {
    const g = this.#ctx.genesis;
    const H = g.sparseloco.H;
    const sorted = [...this.#steps].sort((a, b) => a - b);
    const stepMs = sorted.length > 0 ? sorted[sorted.length >> 1] : NaN;
    const budget = g.windowMs * (1 - NETWORK_RESERVE) - this.#compressMs;
    const steps = Number.isFinite(stepMs) && stepMs > 0
      ? Math.max(1, Math.min(H, Math.floor(budget / stepMs)))
      : H;
    return { stepMs, compressMs: this.#compressMs, steps, of: H, from: this.#from };
  }

  #last = 0;
  #time(): void {
    const t = performance.now();
    this.#steps.push(t - this.#last);
    if (this.#steps.length > KEEP) this.#steps.shift();
    this.#last = t;
  }

  /**
   * Trains at most the share's steps, and stops earlier at `deadline` (the window's end) or
   * at the point past which compressing would end after it.
   */
  override async train(
    theta: Float32Array,
    w: number,
    deadline: number,
    onStep: (s: StepInfo) => void = () => {},
    now: () => number = Date.now,
  ): Promise<WindowResult> {
    const share = this.share();
    this.#onShare(share);
    let stop = false;
    this.#last = performance.now();
    // Compressing follows the last step: leave it room before the window's end.
    const r = await super.train(theta, w, deadline - this.#compressMs, (s) => {
      this.#time();
      if (s.step >= share.steps) stop = true;
      onStep(s);
    }, () => stop ? Infinity : now());
    this.#from = "measured";
    return r;
  }

  /** Compresses, timing it for the next window's share. */
  override async compress(): Promise<QuantizedTensor[]> {
    const t0 = performance.now();
    const out = await super.compress();
    this.#compressMs = performance.now() - t0;
    return out;
  }
}
