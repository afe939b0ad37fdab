/**
 * webloco model checkpoints: a safetensors file with one F32 tensor per model parameter, under
 * the layout's Hugging Face names (so Hugging Face tools can read the model), plus metadata:
 *
 * ```
 * format     "webloco-checkpoint/1"
 * runId      64 lower-case hex digits (the run's genesis hash)
 * window     decimal, no leading zeros: the model is θ_window, the state at that window's start
 * modelHash  64 lower-case hex digits: SHA-256 of the flat parameter buffer, padding included
 * ```
 *
 * Tensors named "webloco.*" are extras of the peer that wrote the file (for example its
 * error-feedback buffer, {@linkcode ERROR_FEEDBACK_TENSOR}); no model name starts that way.
 * The decoder rebuilds the flat buffer (padding zero), recomputes the model hash and rejects
 * the file unless it matches, so a checkpoint that decodes is exactly the model it names.
 *
 * @module
 */

import { checkLayout, type TensorEntry } from "../reference/sparseloco/compress_model.ts";
import { hex } from "../util/hex.ts";
import { numelOf, sameShape } from "../util/shape.ts";
import { modelHash, modelHashSync } from "./model_hash.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type NamedTensor,
  SafetensorsError,
} from "./safetensors.ts";

/** What a checkpoint says about its model. */
export interface CheckpointMeta {
  /** The run (lower-case hex of its 32-byte id). */
  runId: string;
  /** The model is θ_window: the state at the start of that window. */
  window: number;
  /** Lower-case hex of `modelHash(params)`. */
  modelHash: string;
}

/** A checkpoint that is malformed, corrupted, or not the one expected. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

/** The value of the metadata field "format". */
export const CHECKPOINT_FORMAT = "webloco-checkpoint/1";

/** Prefix of the extra tensors' names; no model parameter name starts with it. */
export const EXTRA_PREFIX = "webloco.";

/** A peer's error-feedback buffer: 1-D, as long as the flat parameter buffer. */
export const ERROR_FEEDBACK_TENSOR = "webloco.error_feedback";

const HEX_64 = /^[0-9a-f]{64}$/;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

function fail(message: string): never {
  throw new CheckpointError(`checkpoint: ${message}`);
}

function checkMeta(meta: CheckpointMeta): void {
  if (typeof meta.runId !== "string" || !HEX_64.test(meta.runId)) {
    fail(`runId must be 64 lower-case hex digits, got ${JSON.stringify(meta.runId)}`);
  }
  if (!Number.isSafeInteger(meta.window) || meta.window < 0) {
    fail(`window must be a non-negative integer, got ${meta.window}`);
  }
  if (typeof meta.modelHash !== "string" || !HEX_64.test(meta.modelHash)) {
    fail(`modelHash must be 64 lower-case hex digits, got ${JSON.stringify(meta.modelHash)}`);
  }
}

function checkExtra(t: NamedTensor, length: number): void {
  if (typeof t.name !== "string" || !t.name.startsWith(EXTRA_PREFIX)) {
    fail(`extra tensor ${JSON.stringify(t.name)} must be named "${EXTRA_PREFIX}…"`);
  }
  if (t.name === ERROR_FEEDBACK_TENSOR && !sameShape(t.shape, [length])) {
    fail(`${ERROR_FEEDBACK_TENSOR} has shape [${t.shape}], expected [${length}]`);
  }
}

function layoutOrFail(layout: readonly TensorEntry[], length: number): void {
  try {
    checkLayout(layout, length);
  } catch (e) {
    fail((e as Error).message);
  }
  for (const e of layout) {
    if (e.name.startsWith(EXTRA_PREFIX)) fail(`layout tensor "${e.name}" uses the extra prefix`);
  }
}

/**
 * Encodes the model `params` (a flat buffer of `layout`) as a checkpoint, with `extra` tensors
 * (named "webloco.*") after the model's. Throws {@linkcode CheckpointError} when the layout does
 * not fit `params`, an element outside every tensor is not +0 (it could not be restored, so the
 * hash would not match), `meta` is malformed, or `meta.modelHash` is not the hash of `params`.
 */
export function encodeCheckpoint(
  layout: readonly TensorEntry[],
  params: Float32Array,
  meta: CheckpointMeta,
  extra: readonly NamedTensor[] = [],
): Uint8Array {
  checkMeta(meta);
  layoutOrFail(layout, params.length);
  for (const t of extra) checkExtra(t, params.length);

  // Padding is not stored: it must already be what the decoder restores (all bits zero).
  const bits = new Uint32Array(params.buffer, params.byteOffset, params.length);
  let at = 0;
  const spans = layout.map((e) => [e.offset, e.offset + numelOf(e.shape)]).sort((a, b) =>
    a[0] - b[0]
  );
  for (const [begin, end] of [...spans, [params.length, params.length]]) {
    for (let i = at; i < begin; i++) {
      if (bits[i] !== 0) {
        fail(`padding element ${i} is not +0 (bits 0x${bits[i].toString(16).padStart(8, "0")})`);
      }
    }
    at = Math.max(at, end);
  }
  const actual = hex(modelHashSync(params));
  if (actual !== meta.modelHash) {
    fail(`meta.modelHash ${meta.modelHash} is not the hash of the parameters (${actual})`);
  }

  const tensors: NamedTensor[] = layout.map((e) => ({
    name: e.name,
    shape: [...e.shape],
    data: params.subarray(e.offset, e.offset + numelOf(e.shape)),
  }));
  try {
    return encodeSafetensors([...tensors, ...extra], {
      format: CHECKPOINT_FORMAT,
      runId: meta.runId,
      window: String(meta.window),
      modelHash: meta.modelHash,
    });
  } catch (e) {
    if (e instanceof SafetensorsError) throw new CheckpointError(e.message, { cause: e });
    throw e;
  }
}

function metaField(metadata: Record<string, string>, key: string): string {
  if (!Object.hasOwn(metadata, key)) fail(`metadata "${key}" is missing`);
  return metadata[key];
}

/**
 * Decodes a checkpoint of a model with `layout` in a flat buffer of `length` elements: checks
 * the metadata and the `expected` fields, that every layout tensor is present once with its
 * shape (F32, F16 or BF16) and no other tensor but "webloco.*" extras, rebuilds the buffer
 * (padding 0) and verifies the model hash. Throws {@linkcode CheckpointError} on any failure
 * ("corrupted" when the tensors do not hash to the recorded model hash); a `RangeError` only
 * for an invalid layout (out of bounds, overlapping, or a repeated name).
 */
export async function decodeCheckpoint(
  bytes: Uint8Array,
  layout: readonly TensorEntry[],
  length: number,
  expected: Partial<CheckpointMeta> = {},
): Promise<{ params: Float32Array; meta: CheckpointMeta; extra: NamedTensor[] }> {
  checkLayout(layout, length);
  const byName = new Map(layout.map((e) => [e.name, e]));
  if (byName.size !== layout.length) throw new RangeError("layout: a tensor name appears twice");
  let file: ReturnType<typeof decodeSafetensors>;
  try {
    file = decodeSafetensors(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new CheckpointError(e.message, { cause: e });
    throw e;
  }

  const format = metaField(file.metadata, "format");
  if (format !== CHECKPOINT_FORMAT) {
    fail(`format ${JSON.stringify(format)} is not ${JSON.stringify(CHECKPOINT_FORMAT)}`);
  }
  const runId = metaField(file.metadata, "runId");
  if (!HEX_64.test(runId)) fail(`metadata "runId" is not 64 lower-case hex digits`);
  const windowText = metaField(file.metadata, "window");
  const window = Number(windowText);
  if (!DECIMAL.test(windowText) || !Number.isSafeInteger(window)) {
    fail(`metadata "window" ${JSON.stringify(windowText.slice(0, 40))} is not an integer`);
  }
  const hash = metaField(file.metadata, "modelHash");
  if (!HEX_64.test(hash)) fail(`metadata "modelHash" is not 64 lower-case hex digits`);
  const meta: CheckpointMeta = { runId, window, modelHash: hash };
  // Cheap checks first; the hash below then proves the tensors are the model named here.
  if (expected.runId !== undefined && expected.runId !== runId) {
    fail(`wrong run: checkpoint of run ${runId}, expected ${expected.runId}`);
  }
  if (expected.window !== undefined && expected.window !== window) {
    fail(`wrong window: checkpoint of window ${window}, expected ${expected.window}`);
  }
  if (expected.modelHash !== undefined && expected.modelHash !== hash) {
    fail(`wrong model: checkpoint of model ${hash}, expected ${expected.modelHash}`);
  }

  const params = new Float32Array(length);
  const extra: NamedTensor[] = [];
  const found = new Set<string>();
  for (const t of file.tensors) {
    if (t.name.startsWith(EXTRA_PREFIX)) {
      checkExtra(t, length);
      extra.push(t);
      continue;
    }
    const e = byName.get(t.name);
    const name = JSON.stringify(t.name.slice(0, 80));
    if (e === undefined) fail(`unknown tensor ${name}`);
    if (!sameShape(t.shape, e.shape)) {
      fail(`tensor ${name} has shape [${t.shape}], expected [${e.shape}]`);
    }
    found.add(t.name);
    params.set(t.data, e.offset);
  }
  for (const e of layout) if (!found.has(e.name)) fail(`tensor "${e.name}" is missing`);

  const actual = hex(await modelHash(params));
  if (actual !== hash) fail(`corrupted: the tensors hash to ${actual}, the metadata says ${hash}`);

  return { params, meta, extra };
}
