/**
 * Local training on one peer: the same loop under Deno and in a browser worker.
 */
import type { GpuRuntime } from "../gpu/runtime.ts";
import { adapterLabel } from "../gpu/device.ts";
import { gpuOps } from "../backend/gpu_ops.ts";
import type { Ops } from "../backend/ops.ts";
import type { ModelConfig } from "../model/config.ts";
import { Llama } from "../model/llama.ts";
import { initParams } from "../model/init.ts";
import { Sampler } from "../data/sampler.ts";
import { lrAt } from "../optim/lr_schedule.ts";
import { INNER_DEFAULTS, Trainer } from "./trainer.ts";

/** Everything a local run needs besides the tokens. */
export interface TrainOptions {
  model: ModelConfig;
  batch: number;
  steps: number;
  seed: number;
  /** Peak learning rate. */
  lr: number;
  warmup: number;
  weightDecay: number;
  gradClip: number;
}

/** One line of progress. */
export interface StepReport {
  step: number;
  loss: number;
  tokensPerSec: number;
  gradNorm: number;
  lr: number;
  adapter: string;
}

/** Defaults for the embedded tiny run: a few minutes on SwiftShader, seconds on a GPU. */
export const DEFAULT_TRAIN: Omit<TrainOptions, "model"> = {
  batch: 4,
  steps: 200,
  seed: 1,
  lr: 3e-3,
  warmup: 20,
  weightDecay: INNER_DEFAULTS.weightDecay,
  gradClip: INNER_DEFAULTS.gradClip,
};

/** Everything a local run holds after `step` steps: enough to continue it bit for bit. */
export interface TrainState {
  /** AdamW steps taken; the next batch is `batch(0, 0, step)`. */
  step: number;
  params: Float32Array;
  /** AdamW first and second moments, as long as `params`. */
  m: Float32Array;
  v: Float32Array;
}

/**
 * A local run, one step at a time: the model from `opts.seed` (or the state it resumes from),
 * its AdamW trainer, the training batches and the learning-rate schedule. A run resumed from
 * the state of another after n steps takes the same steps as that one from n on, since every
 * input of a step (batch, rate, AdamW step count, parameters and moments) is in the state or
 * a function of the step.
 */
export class LocalTraining<T> {
  readonly model: Llama<T>;
  readonly trainer: Trainer<T>;
  private readonly sampler: Sampler;
  private readonly adapter: string;

  constructor(
    readonly ops: Ops<T>,
    tokens: Uint32Array,
    readonly opts: TrainOptions,
    { from, adapter = ops.name, recompute = false }: {
      from?: TrainState;
      adapter?: string;
      /** Activation checkpointing (src/model/llama.ts): less memory, same bits. */
      recompute?: boolean;
    } = {},
  ) {
    this.model = new Llama(ops, opts.model, opts.batch, opts.model.context, { recompute });
    this.trainer = new Trainer(ops, this.model, {
      ...INNER_DEFAULTS,
      weightDecay: opts.weightDecay,
      gradClip: opts.gradClip,
    });
    if (from === undefined) ops.write(this.model.params, initParams(this.model.layout, opts.model, opts.seed));
    else {
      ops.write(this.model.params, from.params);
      ops.write(this.trainer.m, from.m);
      ops.write(this.trainer.v, from.v);
      this.trainer.step = from.step;
    }
    this.sampler = new Sampler(tokens, { batch: opts.batch, context: opts.model.context, seed: opts.seed });
    this.adapter = adapter;
  }

  /** Steps taken. */
  get step(): number {
    return this.trainer.step;
  }

  /** Takes the next step. */
  async next(): Promise<StepReport> {
    const { opts } = this;
    const t0 = performance.now();
    const step = this.trainer.step;
    const { inputs, targets } = this.sampler.batch(0, 0, step);
    const lr = lrAt(step, { base: opts.lr, warmup: opts.warmup, total: opts.steps, minRatio: 0.1 });
    const { loss, gradNorm } = await this.trainer.train(inputs, targets, lr);
    const seconds = (performance.now() - t0) / 1000;
    return { step: step + 1, loss, gradNorm, lr, tokensPerSec: inputs.length / seconds, adapter: this.adapter };
  }

  /** The state to save (read back from the backend). */
  async state(): Promise<TrainState> {
    const { ops, model, trainer } = this;
    const [params, m, v] = await Promise.all([ops.read(model.params), ops.read(trainer.m), ops.read(trainer.v)]);
    return { step: trainer.step, params, m, v };
  }
}

/** Trains from a fixed seed on `tokens`, yielding a report after every step. */
export async function* trainLocal(
  rt: GpuRuntime,
  tokens: Uint32Array,
  opts: TrainOptions,
): AsyncGenerator<StepReport> {
  const run = new LocalTraining(gpuOps(rt), tokens, opts, { adapter: adapterLabel(rt.adapter) });
  while (run.step < opts.steps) yield await run.next();
}
