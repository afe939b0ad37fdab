/**
 * Text generation with `onnx/model.onnx` in onnxruntime (web or node: the same API, injected),
 * using the key/value cache: the prompt runs once, then every new token runs alone against the
 * cached keys and values of the positions before it.
 *
 * It chooses the same tokens as {@linkcode Generator} (the project's own forward): past the
 * context the window slides the same way (the last `context` ids, positions from 0), which a
 * cache cannot do, so from there on every token recomputes the window.
 *
 * @module
 */

import type * as Ort from "onnxruntime-web";
import type { ModelConfig } from "../model/config.ts";
import type { Rng } from "../util/rng.ts";
import { type SampleOptions, sampleTokens } from "./sample_token.ts";

/** The onnxruntime module (only `Tensor` is used), so Deno and the page can pass their own. */
export interface OrtModule {
  Tensor: typeof Ort.Tensor;
}

/** Next-token logits from an onnxruntime session of an exported model. */
export class OnnxGenerator {
  #past: Record<string, Ort.Tensor> | null = null;
  /** The ids the cache holds keys and values for. */
  #cached: number[] = [];

  constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    readonly config: ModelConfig,
  ) {}

  /** The logits (vocabulary-long) of the token after `ids`' last `context` ids. */
  async nextLogits(ids: ArrayLike<number>): Promise<Float32Array> {
    if (ids.length === 0) {
      throw new RangeError("OnnxGenerator.nextLogits: no tokens (the prompt is empty)");
    }
    const c = this.config, all = Array.from(ids);
    const window = all.slice(-c.context);
    const reuse = all.length <= c.context && this.#past !== null &&
      this.#cached.length < all.length && this.#cached.every((id, i) => id === all[i]);
    const from = reuse ? this.#cached.length : 0;
    const fresh = window.slice(from);
    const S = fresh.length, T = from + S, D = c.dModel / c.nHeads;
    const i64 = (v: number[], dims: number[]) =>
      new this.ort.Tensor("int64", BigInt64Array.from(v, (x) => BigInt(x)), dims);
    const feeds: Record<string, Ort.Tensor> = {
      input_ids: i64(fresh, [1, S]),
      attention_mask: i64(Array(T).fill(1), [1, T]),
      position_ids: i64(fresh.map((_, i) => from + i), [1, S]),
    };
    for (let l = 0; l < c.nLayers; l++) {
      for (const kv of ["key", "value"]) {
        const name = `past_key_values.${l}.${kv}`;
        feeds[name] = reuse && this.#past
          ? this.#past[name]
          : new this.ort.Tensor("float32", new Float32Array(0), [1, c.nKvHeads, 0, D]);
      }
    }
    const out = await this.session.run(feeds);
    this.#dispose();
    this.#past = {};
    for (const [name, t] of Object.entries(out)) {
      if (name.startsWith("present.")) this.#past[name.replace("present", "past_key_values")] = t;
    }
    this.#cached = all.length <= c.context ? all : [];
    const V = c.vocabSize;
    const logits = (await out.logits.getData()) as Float32Array; // logits: (1, S, V)
    const last = logits.slice((S - 1) * V, S * V);
    out.logits.dispose();
    return last;
  }

  #dispose(): void {
    for (const t of Object.values(this.#past ?? {})) t.dispose();
    this.#past = null;
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
