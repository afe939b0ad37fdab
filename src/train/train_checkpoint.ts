/**
 * A local run's checkpoint: the run's checkpoint format (src/codec/checkpoint.ts: safetensors,
 * one F32 tensor per parameter under its Hugging Face name, the model hash checked on load)
 * with the AdamW moments as the extra tensors {@linkcode ADAM_M_TENSOR} and
 * {@linkcode ADAM_V_TENSOR}. The metadata's `window` holds the steps taken and its `runId` the
 * id of the local run's settings, so a checkpoint resumes only the run it came from.
 *
 * @module
 */

import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from "../codec/checkpoint.ts";
import { modelHash } from "../codec/model_hash.ts";
import type { ParamLayout } from "../model/params.ts";
import { hex } from "../util/hex.ts";
import type { TrainState } from "./train_loop.ts";

/** AdamW's first moment: 1-D, as long as the flat parameter buffer. */
export const ADAM_M_TENSOR = "webloco.adam_m";
/** AdamW's second moment: 1-D, as long as the flat parameter buffer. */
export const ADAM_V_TENSOR = "webloco.adam_v";

/** Encodes `state` as a checkpoint of the run `runId` (64 lower-case hex digits). */
export async function encodeTrainCheckpoint(
  layout: ParamLayout,
  state: TrainState,
  runId: string,
): Promise<Uint8Array> {
  return encodeCheckpoint(
    layout.entries,
    state.params,
    { runId, window: state.step, modelHash: hex(await modelHash(state.params)) },
    [
      { name: ADAM_M_TENSOR, shape: [layout.length], data: state.m },
      { name: ADAM_V_TENSOR, shape: [layout.length], data: state.v },
    ],
  );
}

/**
 * Decodes a checkpoint of the run `runId` into the state it holds. Throws
 * {@linkcode CheckpointError} for another run, a corrupted model, or missing or misshapen moments.
 */
export async function decodeTrainCheckpoint(
  bytes: Uint8Array,
  layout: ParamLayout,
  runId: string,
): Promise<TrainState> {
  const { params, meta, extra } = await decodeCheckpoint(bytes, layout.entries, layout.length, {
    runId,
  });
  const moment = (name: string): Float32Array => {
    const t = extra.find((e) => e.name === name);
    if (t === undefined) throw new CheckpointError(`checkpoint: tensor "${name}" is missing`);
    if (t.shape.length !== 1 || t.shape[0] !== layout.length) {
      throw new CheckpointError(
        `checkpoint: "${name}" has shape [${t.shape}], expected [${layout.length}]`,
      );
    }
    return t.data;
  };
  return { step: meta.window, params, m: moment(ADAM_M_TENSOR), v: moment(ADAM_V_TENSOR) };
}
