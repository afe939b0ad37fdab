/**
 * A peer's inner loop for one window: load θ_w, run up to H AdamW steps on the peer's own
 * batches until a deadline, then compress the pseudo-gradient Δ = θ_w − θ_end on the backend
 * (`Ops.compressor`): on a GPU, θ and the error-feedback buffer never leave the device, only
 * the kept indices and values come back. The AdamW moments and the error feedback live on
 * across windows (as in the reference run); a restarted peer starts the moments afresh.
 *
 * @module
 */

import type { Compressor } from "../backend/compressor.ts";
import type { Ops } from "../backend/ops.ts";
import type { QuantizedTensor } from "../reference/sparseloco/compress.ts";
import type { Sampler } from "../data/sampler.ts";
import { Llama } from "../model/llama.ts";
import { lrAt } from "../optim/lr_schedule.ts";
import { Trainer } from "../train/trainer.ts";
import type { RunContext } from "../protocol/run_context.ts";

/** What one window of inner steps produced. */
export interface WindowResult {
  /** Inner steps taken (0 when the deadline came first). */
  steps: number;
  /** Mean training loss of those steps (NaN when none). */
  meanLoss: number;
  /** Seconds spent in inner steps (their sum: the yields to the network between them are not). */
  seconds: number;
  /** Duration of the last step (ms; 0 when none): the time left unused before the deadline is below it. */
  lastStepMs: number;
  /**
   * When the loop ended (ms since the epoch, on the clock it checked its deadline by): what
   * comes after it (compressing, the Worker's answer, encoding) is the window's tail.
   */
  endedAt: number;
}

/**
 * How long before its window's end the next inner loop must end so that its update is ready
 * by then (ms): the last window's tail, from its loop's end to `readyAt` (the update encoded
 * and stored), at most a quarter of a window (none is begun in its last quarter either). The
 * time before and between the steps (loading θ, the Worker's messages, yields) is not in it:
 * the loop checks its deadline on the clock, which has counted that time already.
 */
export function tailMs(result: WindowResult, readyAt: number, windowMs: number): number {
  return Math.min(Math.max(0, readyAt - result.endedAt), 0.25 * windowMs);
}

/** Progress of one inner step. */
export interface StepInfo {
  /** Steps done in this window. */
  step: number;
  /** Most steps in a window (H). */
  of: number;
  /** The step's loss. */
  loss: number;
}

/**
 * The pause between inner steps while the network needs the event loop (ms): a payload
 * request takes a few round trips, each waiting for a turn between steps.
 */
export const RESPONSIVE_YIELD_MS = 20;

/**
 * What a {@linkcode Peer} needs of its inner loop: a {@linkcode WindowTrainer} on the peer's
 * own thread, or one in a Worker (workers/worker_trainer.ts), so that a CPU peer's steps do not
 * block its network.
 */
export interface InnerLoop {
  /** Trains window `w` from `theta` until H steps or `deadline` ({@linkcode WindowTrainer.train}). */
  train(
    theta: Float32Array,
    w: number,
    deadline: number,
    onStep?: (s: StepInfo) => void,
    now?: () => number,
    responsiveUntil?: number,
  ): Promise<WindowResult>;
  /** The last trained window's compressed Δ. */
  compress(): Promise<QuantizedTensor[]>;
  /** True when the error feedback lives on a device: reading it is a full read-back. */
  readonly errorOnDevice: boolean;
  /** Replaces the error-feedback buffer. */
  loadError(error: Float32Array): void;
  /** A copy of the error-feedback buffer. */
  readError(): Promise<Float32Array>;
  /** Frees what it holds beyond the heap (a Worker); absent when there is nothing. */
  close?(): void;
}

/** How a peer's operator runs its trainer: memory, not results (`--recompute`). */
export interface TrainerOptions {
  /** Activation checkpointing (src/model/llama.ts): bit-identical updates, less memory. */
  recompute?: boolean;
}

/** Trains windows on one backend. */
export class WindowTrainer<T> implements InnerLoop {
  readonly #ctx: RunContext;
  readonly #ops: Ops<T>;
  readonly #model: Llama<T>;
  readonly #trainer: Trainer<T>;
  readonly #sampler: Sampler;
  readonly #peer: number;
  readonly #compressor: Compressor<T>;
  readonly #yields: boolean;

  /**
   * `peer` is the data stream index ({@linkcode dataPeerIndex}). `yields: false` for a trainer
   * alone on its thread (a Worker): nothing waits for a turn between its steps, and each yield
   * gives the core away, which on a loaded machine costs a scheduler slice per step.
   * `recompute`: the model's activation checkpointing (src/model/llama.ts; same bits).
   */
  constructor(
    ctx: RunContext,
    ops: Ops<T>,
    sampler: Sampler,
    peer: number,
    { yields = true, recompute = false }: TrainerOptions & { yields?: boolean } = {},
  ) {
    const g = ctx.genesis;
    this.#ctx = ctx;
    this.#ops = ops;
    this.#model = new Llama(ops, g.model, g.data.batch, g.model.context, { recompute });
    this.#trainer = new Trainer(ops, this.#model, {
      beta1: g.inner.beta1,
      beta2: g.inner.beta2,
      eps: g.inner.eps,
      weightDecay: g.inner.weightDecay,
      gradClip: g.inner.gradClip,
    });
    this.#sampler = sampler;
    this.#peer = peer;
    this.#compressor = ops.compressor(ctx.layout, ctx.compress);
    this.#yields = yields;
  }

  /** Whether its model recomputes activations (`TrainerOptions.recompute`), for logs and tests. */
  get recompute(): boolean {
    return this.#model.recompute;
  }

  /**
   * Trains window `w` from `theta` until H steps are done or the next step would end after
   * `deadline` (ms since the epoch, judged by the last step's duration). {@link compress}
   * then sends what it moved. Until `responsiveUntil` (ms) it yields {@linkcode RESPONSIVE_YIELD_MS}
   * between steps instead of one turn: a peer of an overlapped run trains while the validator
   * still fetches its last update, and a CPU backend never yields inside a step.
   */
  async train(
    theta: Float32Array,
    w: number,
    deadline: number,
    onStep: (s: StepInfo) => void = () => {},
    now: () => number = Date.now,
    responsiveUntil = 0,
  ): Promise<WindowResult> {
    const g = this.#ctx.genesis;
    const H = g.sparseloco.H;
    const schedule = {
      base: g.inner.lr,
      warmup: g.inner.warmup,
      total: g.inner.totalSteps,
      minRatio: g.inner.minRatio,
    };
    this.#ops.write(this.#model.params, theta);
    this.#compressor.begin(this.#model.params);
    let steps = 0, sum = 0, last = 0, inSteps = 0;
    while (steps < H && now() + last < deadline) {
      const s0 = performance.now();
      const { inputs, targets } = this.#sampler.batch(this.#peer, w, steps);
      // The schedule follows the run's clock (window · H + step), so every peer agrees on it.
      const { loss } = await this.#trainer.train(inputs, targets, lrAt(w * H + steps, schedule));
      steps++;
      sum += loss;
      last = performance.now() - s0;
      inSteps += last;
      onStep({ step: steps, of: H, loss });
      // A CPU backend never yields inside a step; let the network (pings, gossip, payload
      // requests) run between steps, or connections time out during a long window.
      if (!this.#yields) continue;
      const pause = now() < responsiveUntil ? RESPONSIVE_YIELD_MS : 0;
      await new Promise((r) => setTimeout(r, pause));
    }
    const endedAt = now();
    const seconds = inSteps / 1000;
    return { steps, meanLoss: steps > 0 ? sum / steps : NaN, seconds, lastStepMs: last, endedAt };
  }

  /**
   * Compresses the last trained window's Δ into the error feedback (`compressModel`'s
   * result, on the backend): one tensor per layout entry, ready for `encodeUpdate`.
   */
  compress(): Promise<QuantizedTensor[]> {
    return this.#compressor.compress(this.#model.params);
  }

  /** True when the error feedback lives on a device: reading it is a full read-back. */
  get errorOnDevice(): boolean {
    return this.#compressor.onDevice;
  }

  /** Replaces the error-feedback buffer (the layout's length), e.g. with a saved one. */
  loadError(error: Float32Array): void {
    this.#compressor.loadError(error);
  }

  /** A copy of the error-feedback buffer, for saving. */
  readError(): Promise<Float32Array> {
    return this.#compressor.readError();
  }
}
