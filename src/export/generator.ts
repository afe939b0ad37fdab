/**
 * Text generation with the project's own forward pass ({@linkcode Llama}, forward only).
 *
 * There is no key/value cache: every new token runs the forward over the whole context again
 * (cheap for the small models a run trains; a KV cache would need kernels the training does
 * not use). The model is built once with T = the context; a shorter sequence is padded at the
 * end, which causal attention makes invisible to the positions before it, and the logits of
 * its last real position are read. Past the context the window slides: the oldest tokens drop
 * out and positions restart at 0, as in training, where every sequence starts at position 0.
 *
 * @module
 */

import type { Ops } from "../backend/ops.ts";
import type { ModelConfig } from "../model/config.ts";
import { Llama } from "../model/llama.ts";
import type { Rng } from "../util/rng.ts";
import { type SampleOptions, sampleTokens } from "./sample_token.ts";

/** A forward-only model that gives next-token logits. */
export class Generator<T> {
  readonly #ops: Ops<T>;
  readonly #model: Llama<T>;
  readonly #inputs: Uint32Array;
  readonly #targets: Uint32Array;

  /** Builds the model on `ops` and writes `params` (the flat buffer of `config`'s layout). */
  constructor(ops: Ops<T>, readonly config: ModelConfig, params: Float32Array) {
    this.#ops = ops;
    this.#model = new Llama(ops, config, 1, config.context, { forwardOnly: true });
    ops.write(this.#model.params, params);
    this.#inputs = new Uint32Array(config.context);
    this.#targets = new Uint32Array(config.context);
  }

  /** The logits (vocabulary-long) of the token after `ids`' last `context` ids. */
  async nextLogits(ids: ArrayLike<number>): Promise<Float32Array> {
    if (ids.length === 0) {
      throw new RangeError("Generator.nextLogits: no tokens (the prompt is empty)");
    }
    const T = this.config.context, V = this.config.vocabSize;
    const n = Math.min(ids.length, T), from = ids.length - n;
    this.#inputs.fill(0);
    for (let i = 0; i < n; i++) this.#inputs[i] = ids[from + i];
    this.#model.setBatch(this.#inputs, this.#targets);
    const logits = await this.#ops.read(this.#model.forward()); // logits: (T, V)
    return logits.slice((n - 1) * V, n * V);
  }

  /** Yields `maxTokens` new token ids after `prompt`, each as soon as it is chosen. */
  async *generate(
    prompt: ArrayLike<number>,
    maxTokens: number,
    sample: SampleOptions,
    rng: Rng,
  ): AsyncGenerator<number> {
    yield* sampleTokens((ids) => this.nextLogits(ids), prompt, maxTokens, sample, rng);
  }
}
