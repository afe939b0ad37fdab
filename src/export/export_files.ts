/**
 * Every file of an exported folder, by name, from a run's genesis and one verified model.
 *
 * @module
 */

import type { Genesis } from "../protocol/genesis.ts";
import { byteTokenizerJson, tokenizerConfigJson } from "./byte_tokenizer_json.ts";
import { type CardFacts, modelCard } from "./model_card.ts";
import { ONNX_FILE, onnxModel } from "./onnx_model.ts";
import {
  CONFIG_FILE,
  configJson,
  type ExportMeta,
  generationConfigJson,
  WEIGHTS_FILE,
  weightsFile,
} from "./hf_folder.ts";

/** What goes into an export besides the genesis. */
export interface ExportInput {
  /** θ (the flat buffer of the genesis' layout), already verified against `meta.modelHash`. */
  params: Float32Array;
  meta: ExportMeta;
  /** The run's BPE `tokenizer.json` bytes (shipped as is); absent for the byte tokenizer. */
  tokenizerJson?: Uint8Array;
  validation?: CardFacts["validation"];
  history?: CardFacts["history"];
}

/** The folder's files: name → contents. */
export function exportFiles(
  genesis: Genesis,
  input: ExportInput,
): Map<string, string | Uint8Array> {
  const c = genesis.model;
  if ((genesis.tokenizer === "bytes") !== (input.tokenizerJson === undefined)) {
    throw new RangeError(
      "exportFiles: the tokenizer file is needed exactly when the run uses a BPE tokenizer",
    );
  }
  return new Map<string, string | Uint8Array>([
    [CONFIG_FILE, configJson(c)],
    [WEIGHTS_FILE, weightsFile(c, input.params, input.meta)],
    ["tokenizer.json", input.tokenizerJson ?? byteTokenizerJson()],
    ["tokenizer_config.json", tokenizerConfigJson(c.context)],
    ["generation_config.json", generationConfigJson(c)],
    [ONNX_FILE, onnxModel(c, input.params, input.meta)],
    [
      "README.md",
      modelCard(genesis, {
        meta: input.meta,
        validation: input.validation,
        history: input.history,
      }),
    ],
  ]);
}
