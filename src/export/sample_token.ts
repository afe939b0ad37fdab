/**
 * Choosing the next token from logits: greedy, temperature, top-k and top-p (nucleus), with a
 * seeded generator so a run with the same seed chooses the same tokens.
 *
 * @module
 */

import type { Rng } from "../util/rng.ts";

/** How a token is drawn. */
export interface SampleOptions {
  /** 0: greedy (the argmax); else logits are divided by it before the softmax. */
  temperature: number;
  /** Keep only the k most likely tokens; 0: all. */
  topK: number;
  /** Keep the fewest most likely tokens whose probabilities sum to at least p; 1: all. */
  topP: number;
}

/** The index of the largest logit (the first of equal ones). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Draws the next token from `logits` (one row, vocabulary-long). */
export function sampleToken(logits: ArrayLike<number>, o: SampleOptions, rng: Rng): number {
  if (o.temperature === 0 || o.topK === 1) return argmax(logits);
  const ids = Array.from({ length: logits.length }, (_, i) => i);
  // Stable: equal logits keep their id order, so ties break the same way as argmax.
  ids.sort((a, b) => logits[b] - logits[a]);
  const kept = o.topK > 0 ? ids.slice(0, o.topK) : ids;
  const top = logits[kept[0]];
  const weights = kept.map((i) => Math.exp((logits[i] - top) / o.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let n = kept.length;
  if (o.topP < 1) {
    let sum = 0;
    for (n = 0; n < kept.length && sum < o.topP * total;) sum += weights[n++];
  }
  const mass = weights.slice(0, n).reduce((a, b) => a + b, 0);
  let u = rng.uniform() * mass;
  for (let j = 0; j < n; j++) {
    u -= weights[j];
    if (u < 0) return kept[j];
  }
  return kept[n - 1];
}

/**
 * The sampling loop shared by every generator (the project's forward, onnxruntime): yields
 * `maxTokens` new ids after `prompt`, each as soon as `nextLogits` of the ids so far gives it.
 */
export async function* sampleTokens(
  nextLogits: (ids: readonly number[]) => Promise<ArrayLike<number>>,
  prompt: ArrayLike<number>,
  maxTokens: number,
  sample: SampleOptions,
  rng: Rng,
): AsyncGenerator<number> {
  const ids = Array.from(prompt);
  for (let i = 0; i < maxTokens; i++) {
    const next = sampleToken(await nextLogits(ids), sample, rng);
    ids.push(next);
    yield next;
  }
}
