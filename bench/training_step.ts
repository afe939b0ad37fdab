/**
 * One training step of a preset on random tokens, warmed up once: what the kernel and CPU
 * benchmarks time (the data does not change a step's cost).
 *
 * @module
 */

import type { Ops } from "../src/backend/ops.ts";
import { type ModelConfig, presetConfig } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { Llama } from "../src/model/llama.ts";
import { Trainer } from "../src/train/trainer.ts";
import { Rng } from "../src/util/rng.ts";

/** A warmed-up step of `preset` at `batch` sequences; `step()` runs one more. */
export interface TrainingStep {
  cfg: ModelConfig;
  params: number;
  /** Tokens per step: batch × context. */
  tokens: number;
  step(): Promise<void>;
}

/** Builds the model on `ops`, initialises it (seed 1) and takes the warm-up step. */
export async function trainingStep<B>(
  ops: Ops<B>,
  preset: string,
  batch: number,
): Promise<TrainingStep> {
  const cfg = presetConfig(preset);
  const model = new Llama(ops, cfg, batch, cfg.context);
  ops.write(model.params, initParams(model.layout, cfg, 1));
  const trainer = new Trainer(ops, model);
  const rng = new Rng(7);
  const tokens = batch * cfg.context;
  const inputs = new Uint32Array(tokens).map(() => rng.int(cfg.vocabSize));
  const targets = new Uint32Array(tokens).map(() => rng.int(cfg.vocabSize));
  const step = async () => void await trainer.train(inputs, targets, 1e-3);
  await step();
  return { cfg, params: model.layout.count, tokens, step };
}
