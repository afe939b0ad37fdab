/**
 * The model card's validation loss: the mean next-token loss over the first sequences of the
 * held-out tokens, cut into consecutive, non-overlapping windows of the context.
 *
 * @module
 */

import type { Ops } from "../backend/ops.ts";
import type { ModelConfig } from "../model/config.ts";
import { Llama } from "../model/llama.ts";

/** Mean loss (nats/token) over up to `sequences` held-out sequences, and the tokens scored. */
export async function validationLoss<T>(
  ops: Ops<T>,
  config: ModelConfig,
  params: Float32Array,
  valid: Uint32Array,
  sequences: number,
): Promise<{ loss: number; tokens: number }> {
  const T = config.context;
  const n = Math.min(sequences, Math.floor((valid.length - 1) / T));
  if (n < 1) throw new RangeError(`validationLoss: ${valid.length} held-out tokens, need ${T + 1}`);
  const model = new Llama(ops, config, 1, T, { forwardOnly: true });
  ops.write(model.params, params);
  let sum = 0;
  for (let s = 0; s < n; s++) {
    model.setBatch(valid.subarray(s * T, s * T + T), valid.subarray(s * T + 1, s * T + T + 1));
    model.forward();
    sum += await model.meanLoss();
  }
  return { loss: sum / n, tokens: n * T };
}
