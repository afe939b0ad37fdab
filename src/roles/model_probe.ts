/**
 * The validator's loss probe: the run's model on the validator's backend, forward only, so
 * the gauntlet can measure an update's effect (src/gauntlet/loss_check.ts). One model is
 * built once and reused for every measurement of a window: θ is written, each batch runs
 * forward, and only the mean loss is read back.
 *
 * @module
 */

import type { Ops } from "../backend/ops.ts";
import type { Sampler } from "../data/sampler.ts";
import type { Batch, LossProbe } from "../gauntlet/loss_check.ts";
import { Llama } from "../model/llama.ts";
import type { Genesis } from "../protocol/genesis.ts";
import { mixSeed, Rng } from "../util/rng.ts";

/** Mean loss of θ on batches, on a backend. */
export class ModelProbe<T> implements LossProbe {
  readonly #ops: Ops<T>;
  readonly #model: Llama<T>;

  constructor(ops: Ops<T>, genesis: Genesis) {
    this.#ops = ops;
    this.#model = new Llama(ops, genesis.model, genesis.data.batch, genesis.model.context, {
      forwardOnly: true,
    });
  }

  async loss(params: Float32Array, batches: readonly Batch[]): Promise<number> {
    if (batches.length === 0) throw new RangeError("ModelProbe.loss: no batches");
    this.#ops.write(this.#model.params, params);
    let sum = 0;
    for (const b of batches) {
      this.#model.setBatch(b.inputs, b.targets);
      this.#model.forward();
      sum += await this.#model.meanLoss();
    }
    return sum / batches.length;
  }
}

/**
 * The batches a loss check of window `w` uses: `count` of the peer's assigned ones (stream
 * `peer`), drawn from the first quarter of its H steps — every honest peer gets that far in a
 * window — at steps no peer can predict (`nonce` is the validator's own randomness), and
 * `count` from `nobody`, a stream assigned to no peer (the validator's own key's).
 */
export function evaluationBatches(
  sampler: Sampler,
  H: number,
  w: number,
  peer: number,
  nobody: number,
  count: number,
  nonce: number,
): { assigned: Batch[]; unassigned: Batch[] } {
  const span = Math.max(1, Math.floor(H / 4));
  const rng = new Rng(mixSeed(nonce, w, peer));
  const steps = Array.from({ length: count }, () => rng.int(span));
  return {
    assigned: steps.map((s) => sampler.batch(peer, w, s)),
    unassigned: steps.map((s) => sampler.batch(nobody, w, s)),
  };
}
