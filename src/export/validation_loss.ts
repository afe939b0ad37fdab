/**
 * The model card's validation loss: the mean next-token loss over the first sequences of the
 * held-out tokens, cut into consecutive, non-overlapping windows of the context. The validator
 * measures the same held-out windows every round ({@linkcode heldOutBatches}).
 *
 * @module
 */

import type { Ops } from "../backend/ops.ts";
import type { ModelConfig } from "../model/config.ts";
import { Llama } from "../model/llama.ts";

/**
 * The first `count` batches of `batch` consecutive, non-overlapping held-out sequences of
 * `context` tokens (inputs and next-token targets), fewer when the tokens run out.
 */
export function heldOutBatches(
  valid: Uint32Array,
  batch: number,
  context: number,
  count: number,
): { inputs: Uint32Array; targets: Uint32Array }[] {
  const n = Math.min(count, Math.floor((valid.length - 1) / (batch * context)));
  return Array.from({ length: Math.max(0, n) }, (_, s) => {
    const at = s * batch * context;
    return {
      inputs: valid.subarray(at, at + batch * context),
      targets: valid.subarray(at + 1, at + batch * context + 1),
    };
  });
}

/** Mean loss (nats/token) over up to `sequences` held-out sequences, and the tokens scored. */
export async function validationLoss<T>(
  ops: Ops<T>,
  config: ModelConfig,
  params: Float32Array,
  valid: Uint32Array,
  sequences: number,
): Promise<{ loss: number; tokens: number }> {
  const T = config.context;
  const batches = heldOutBatches(valid, 1, T, sequences);
  if (batches.length < 1) {
    throw new RangeError(`validationLoss: ${valid.length} held-out tokens, need ${T + 1}`);
  }
  const model = new Llama(ops, config, 1, T, { forwardOnly: true });
  ops.write(model.params, params);
  let sum = 0;
  for (const b of batches) {
    model.setBatch(b.inputs, b.targets);
    model.forward();
    sum += await model.meanLoss();
  }
  return { loss: sum / batches.length, tokens: batches.length * T };
}
