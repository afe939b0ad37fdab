/**
 * A model as the files of a Hugging Face folder (`LlamaForCausalLM`), and the strict reader of
 * such a folder. Runtime-neutral: files are names and bytes; the CLIs read and write them.
 *
 * `model.safetensors` holds every layout tensor under its Hugging Face name (no `lm_head`
 * with tied embeddings, as Transformers expects), F32, with metadata `format: "pt"` (which
 * Transformers requires) plus the run id, window and model hash, so the reader can prove
 * that the tensors are the model the export named.
 *
 * @module
 */

import { modelHash } from "../codec/model_hash.ts";
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from "../codec/safetensors.ts";
import type { ModelConfig } from "../model/config.ts";
import { paramLayout } from "../model/params.ts";
import { hex } from "../util/hex.ts";
import { sameShape } from "../util/shape.ts";
import { ExportError } from "./export_error.ts";
import { hfConfig, modelConfigFromHf } from "./hf_config.ts";

/** The exported model's file names. */
export const CONFIG_FILE = "config.json";
/** The weights. */
export const WEIGHTS_FILE = "model.safetensors";

/** What a `model.safetensors` of an export says about its model. */
export interface ExportMeta {
  /** The run (lower-case hex). */
  runId: string;
  /** θ_window: the model at the start of that window. */
  window: number;
  /** Lower-case hex of the model hash of the flat parameter buffer. */
  modelHash: string;
}

/** The text of `config.json`. */
export function configJson(config: ModelConfig): string {
  return JSON.stringify(hfConfig(config), null, 2) + "\n";
}

/** The bytes of `model.safetensors` for `params` (the flat buffer of `config`'s layout). */
export function weightsFile(
  config: ModelConfig,
  params: Float32Array,
  meta: ExportMeta,
): Uint8Array {
  const layout = paramLayout(config);
  if (params.length !== layout.length) {
    throw new ExportError(`params: ${params.length} floats, the layout has ${layout.length}`);
  }
  return encodeSafetensors(
    layout.entries.map((e) => ({
      name: e.name,
      shape: [...e.shape],
      data: params.subarray(e.offset, e.offset + e.size),
    })),
    { format: "pt", runId: meta.runId, window: String(meta.window), modelHash: meta.modelHash },
  );
}

/** The text of `generation_config.json`: plain sampling defaults, no special tokens. */
export function generationConfigJson(config: ModelConfig): string {
  return JSON.stringify(
    {
      do_sample: true,
      temperature: 0.8,
      top_k: 40,
      top_p: 0.95,
      max_length: config.context,
      bos_token_id: null,
      eos_token_id: null,
      pad_token_id: null,
    },
    null,
    2,
  ) + "\n";
}

/** A model read back from an exported folder. */
export interface LoadedModel {
  config: ModelConfig;
  /** The flat parameter buffer of `config`'s layout (padding zero). */
  params: Float32Array;
  /** Present when the weights carry the export's metadata (they always do when we wrote them). */
  meta: ExportMeta | null;
}

/**
 * Reads `config.json` (text) and `model.safetensors` (bytes): the config must be one our
 * forward computes, every layout tensor present once with its shape and no other tensor, and
 * when the file names a model hash the tensors must hash to it. Throws {@linkcode ExportError}.
 */
export async function loadHfModel(
  configText: string,
  weights: Uint8Array,
  where = ".",
): Promise<LoadedModel> {
  const config = modelConfigFromHf(configText, `${where}/${CONFIG_FILE}`);
  const src = `${where}/${WEIGHTS_FILE}`;
  let file: ReturnType<typeof decodeSafetensors>;
  try {
    file = decodeSafetensors(weights);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ExportError(`${src}: ${e.message}`);
    throw e;
  }
  const layout = paramLayout(config);
  const params = new Float32Array(layout.length);
  const found = new Set<string>();
  for (const t of file.tensors) {
    const e = layout.byName.get(t.name);
    const name = JSON.stringify(t.name.slice(0, 80));
    if (e === undefined) {
      throw new ExportError(
        `${src}: tensor ${name} is not a parameter of the model in config.json`,
      );
    }
    if (!sameShape(t.shape, e.shape)) {
      throw new ExportError(
        `${src}: tensor ${name} has shape [${t.shape}], config.json needs [${e.shape}]`,
      );
    }
    found.add(t.name);
    params.set(t.data, e.offset);
  }
  for (const e of layout.entries) {
    if (!found.has(e.name)) throw new ExportError(`${src}: tensor "${e.name}" is missing`);
  }
  const m = file.metadata;
  // Weights written elsewhere (e.g. by Transformers) carry no webloco metadata: nothing to prove.
  if (m.modelHash === undefined && m.runId === undefined && m.window === undefined) {
    return { config, params, meta: null };
  }
  const window = Number(m.window);
  if (
    !/^[0-9a-f]{64}$/.test(m.runId ?? "") || !/^[0-9a-f]{64}$/.test(m.modelHash ?? "") ||
    !/^(?:0|[1-9][0-9]*)$/.test(m.window ?? "") || !Number.isSafeInteger(window)
  ) {
    throw new ExportError(`${src}: metadata runId, window and modelHash are not all well-formed`);
  }
  const actual = hex(await modelHash(params));
  if (actual !== m.modelHash) {
    throw new ExportError(
      `${src}: corrupted: the tensors hash to ${actual}, the file says ${m.modelHash}`,
    );
  }
  const meta: ExportMeta = { runId: m.runId, window, modelHash: m.modelHash };
  return { config, params, meta };
}
