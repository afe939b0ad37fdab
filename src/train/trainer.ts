/**
 * One peer's inner optimiser: forward, backward, global-norm clipping and AdamW on a `Llama`,
 * entirely on the backend (the only read-backs are the loss and the gradient norm).
 */
import type { Ops } from "../backend/ops.ts";
import type { Llama } from "../model/llama.ts";
import type { Sampler } from "../data/sampler.ts";

/** Inner AdamW settings (SPARSELOCO.md defaults). */
export interface InnerOptimizer {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip. */
  gradClip: number;
}

/** The reference run's inner AdamW: betas (0.9, 0.95), eps 1e-8, weight decay 0.1, clip 1.0. */
export const INNER_DEFAULTS: InnerOptimizer = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 };

/** What one step reports. */
export interface StepResult {
  loss: number;
  gradNorm: number;
}

/** AdamW state next to a model, updated in place. */
export class Trainer<T> {
  readonly m: T;
  readonly v: T;
  private readonly clip: T;
  /** AdamW steps taken (bias correction counts from 1). */
  step = 0;

  constructor(readonly ops: Ops<T>, readonly model: Llama<T>, readonly hp: InnerOptimizer = INNER_DEFAULTS) {
    this.m = ops.tensor(model.layout.length, "adam.m", model.layout.entries);
    this.v = ops.tensor(model.layout.length, "adam.v", model.layout.entries);
    this.clip = ops.tensor(2, "clip");
  }

  /** Computes the gradients of one batch into `model.grads` (zeroed first) and clips them. */
  gradients(inputs: Uint32Array, targets: Uint32Array): void {
    const { ops, model } = this;
    model.setBatch(inputs, targets);
    ops.zero(model.grads);
    model.forward();
    model.backward();
    ops.gradClip(this.clip, model.grads, model.layout.length, this.hp.gradClip);
  }

  /** Applies AdamW with learning rate `lr` to the current (clipped) gradients. */
  update(lr: number): void {
    const { ops, model, hp } = this;
    this.step++;
    for (const e of model.layout.entries) {
      const view = (t: T) => ops.view(t, e.offset, e.size);
      ops.adamw(view(model.params), view(model.grads), view(this.m), view(this.v), this.clip, e.size, {
        lr,
        beta1: hp.beta1,
        beta2: hp.beta2,
        eps: hp.eps,
        weightDecay: e.decay ? hp.weightDecay : 0,
        step: this.step,
      });
    }
  }

  /** One full inner step; returns the batch's mean loss and the pre-clip gradient norm. */
  async train(inputs: Uint32Array, targets: Uint32Array, lr: number): Promise<StepResult> {
    this.gradients(inputs, targets);
    this.update(lr);
    const [loss, clip] = await Promise.all([this.model.meanLoss(), this.ops.read(this.clip)]);
    return { loss, gradNorm: clip[1] };
  }

  /** Mean loss of a batch without touching the parameters. */
  async evaluate(inputs: Uint32Array, targets: Uint32Array): Promise<number> {
    this.model.setBatch(inputs, targets);
    this.model.forward();
    return await this.model.meanLoss();
  }

  /**
   * The validation loss: the mean of {@linkcode evaluate} over the fixed validation batches
   * 0 … `batches` − 1 of `valid`, so every method and round is scored on the same tokens.
   */
  async validationLoss(valid: Pick<Sampler, "evalBatch">, batches: number): Promise<number> {
    let s = 0;
    for (let i = 0; i < batches; i++) {
      const { inputs, targets } = valid.evalBatch(i);
      s += await this.evaluate(inputs, targets);
    }
    return s / batches;
  }
}
