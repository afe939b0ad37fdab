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

  async sequenceLosses(params: Float32Array, batches: readonly Batch[]): Promise<number[]> {
    this.#ops.write(this.#model.params, params);
    const { B, T } = this.#model, out: number[] = [];
    for (const b of batches) {
      this.#model.setBatch(b.inputs, b.targets);
      this.#model.forward();
      // losses: (B, T) per token; one mean per sequence.
      const l = await this.#ops.read(this.#model.losses);
      for (let r = 0; r < B; r++) {
        let s = 0;
        for (let t = 0; t < T; t++) s += l[r * T + t];
        out.push(s / T);
      }
    }
    return out;
  }
}

/**
 * The batches the scoring of window `w` uses: `count` of the peer's assigned ones (stream
 * `peer`) at distinct steps of its H, and 2·`count` from `nobody`, a stream assigned to no peer
 * (the validator's own key's), at steps past H (in span mode at random windows too). `nonce`
 * is the validator's own randomness, so no peer can predict which of its steps are tested, nor
 * train on the unassigned batches.
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
  const rng = new Rng(mixSeed(nonce, w, peer));
  const steps = Array.from({ length: H }, (_, s) => s);
  for (let i = steps.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [steps[i], steps[j]] = [steps[j], steps[i]];
  }
  const far = new Rng(mixSeed(nonce, w, nobody));
  return {
    assigned: Array.from({ length: count }, (_, i) => sampler.batch(peer, w, steps[i % H])),
    unassigned: Array.from({ length: 2 * count }, () => {
      // In span mode each from another window's span of `nobody`: one span's sequences share
      // how well an update happens to fit that stretch, which the z's standard error ignores.
      const window = sampler.span === null ? w : far.int(0x7fffffff);
      return sampler.batch(nobody, window, H + far.int(0x7fffffff - H));
    }),
  };
}
