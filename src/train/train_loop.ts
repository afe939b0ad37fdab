/**
 * Local training on one peer: the same loop under Deno and in a browser worker.
 */
import type { GpuRuntime } from "../gpu/runtime.ts";
import { adapterLabel } from "../gpu/device.ts";
import { gpuOps } from "../backend/gpu_ops.ts";
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

/** Trains from a fixed seed on `tokens`, yielding a report after every step. */
export async function* trainLocal(
  rt: GpuRuntime,
  tokens: Uint32Array,
  opts: TrainOptions,
): AsyncGenerator<StepReport> {
  const ops = gpuOps(rt);
  const model = new Llama(ops, opts.model, opts.batch, opts.model.context);
  ops.write(model.params, initParams(model.layout, opts.model, opts.seed));
  const trainer = new Trainer(ops, model, { ...INNER_DEFAULTS, weightDecay: opts.weightDecay, gradClip: opts.gradClip });
  const sampler = new Sampler(tokens, { batch: opts.batch, context: opts.model.context, seed: opts.seed });
  const adapter = adapterLabel(rt.adapter);
  const schedule = { base: opts.lr, warmup: opts.warmup, total: opts.steps, minRatio: 0.1 };
  for (let step = 0; step < opts.steps; step++) {
    const t0 = performance.now();
    const { inputs, targets } = sampler.batch(0, 0, step);
    const lr = lrAt(step, schedule);
    const { loss, gradNorm } = await trainer.train(inputs, targets, lr);
    const seconds = (performance.now() - t0) / 1000;
    yield { step: step + 1, loss, gradNorm, lr, tokensPerSec: inputs.length / seconds, adapter };
  }
}
