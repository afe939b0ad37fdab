/**
 * A peer's inner loop for one window: load θ_w, run up to H AdamW steps on the peer's own
 * batches until a deadline, return the pseudo-gradient Δ = θ_w − θ_end. The AdamW moments
 * live on across windows (as in the reference run); a restarted peer starts them afresh.
 *
 * @module
 */

import type { Ops } from "../backend/ops.ts";
import type { Sampler } from "../data/sampler.ts";
import { Llama } from "../model/llama.ts";
import { lrAt } from "../optim/lr_schedule.ts";
import { Trainer } from "../train/trainer.ts";
import type { RunContext } from "../protocol/run_context.ts";

/** What one window of inner steps produced. */
export interface WindowResult {
  /** θ_w − θ_end, flat, the layout's length. */
  delta: Float32Array;
  /** Inner steps taken (0 when the deadline came first). */
  steps: number;
  /** Mean training loss of those steps (NaN when none). */
  meanLoss: number;
  /** Seconds spent in inner steps. */
  seconds: number;
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

/** Trains windows on one backend. */
export class WindowTrainer<T> {
  readonly #ctx: RunContext;
  readonly #ops: Ops<T>;
  readonly #model: Llama<T>;
  readonly #trainer: Trainer<T>;
  readonly #sampler: Sampler;
  readonly #peer: number;

  /** `peer` is the data stream index ({@linkcode dataPeerIndex}). */
  constructor(ctx: RunContext, ops: Ops<T>, sampler: Sampler, peer: number) {
    const g = ctx.genesis;
    this.#ctx = ctx;
    this.#ops = ops;
    this.#model = new Llama(ops, g.model, g.data.batch, g.model.context);
    this.#trainer = new Trainer(ops, this.#model, {
      beta1: g.inner.beta1,
      beta2: g.inner.beta2,
      eps: g.inner.eps,
      weightDecay: g.inner.weightDecay,
      gradClip: g.inner.gradClip,
    });
    this.#sampler = sampler;
    this.#peer = peer;
  }

  /**
   * Trains window `w` from `theta` until H steps are done or the next step would end after
   * `deadline` (ms since the epoch, judged by the last step's duration).
   */
  async train(
    theta: Float32Array,
    w: number,
    deadline: number,
    onStep: (s: StepInfo) => void = () => {},
    now: () => number = Date.now,
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
    let steps = 0, sum = 0, last = 0;
    const t0 = performance.now();
    while (steps < H && now() + last < deadline) {
      const s0 = performance.now();
      const { inputs, targets } = this.#sampler.batch(this.#peer, w, steps);
      // The schedule follows the run's clock (window · H + step), so every peer agrees on it.
      const { loss } = await this.#trainer.train(inputs, targets, lrAt(w * H + steps, schedule));
      steps++;
      sum += loss;
      last = performance.now() - s0;
      onStep({ step: steps, of: H, loss });
      // A CPU backend never yields inside a step; let the network (pings, gossip, payload
      // requests) run between steps, or connections time out during a long window.
      await new Promise((r) => setTimeout(r, 0));
    }
    const seconds = (performance.now() - t0) / 1000;
    const end = await this.#ops.read(this.#model.params) as Float32Array;
    const delta = new Float32Array(theta.length);
    for (let i = 0; i < delta.length; i++) delta[i] = theta[i] - end[i];
    return { delta, steps, meanLoss: steps > 0 ? sum / steps : NaN, seconds };
  }

  /** Mean validation loss of θ over `batches` held-out batches. */
  async evaluate(theta: Float32Array, valid: Sampler, batches: number): Promise<number> {
    this.#ops.write(this.#model.params, theta);
    let s = 0;
    for (let i = 0; i < batches; i++) {
      const { inputs, targets } = valid.evalBatch(i);
      s += await this.#trainer.evaluate(inputs, targets);
    }
    return s / batches;
  }
}
