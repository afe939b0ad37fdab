/**
 * An exported folder read through any file source (fetch in a page, a picked folder, the disk):
 * the model, strictly checked ({@linkcode loadHfModel}), its tokenizer, and `onnx/model.onnx`
 * checked to be the same model ({@linkcode checkOnnxModel}).
 *
 * @module
 */

import { parseHfTokenizer } from "../data/hf_tokenizer.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import { ExportError } from "./export_error.ts";
import { CONFIG_FILE, type LoadedModel, loadHfModel, WEIGHTS_FILE } from "./hf_folder.ts";
import { checkOnnxModel, ONNX_FILE } from "./onnx_model.ts";

/** A folder's model, tokenizer and ONNX bytes. */
export interface ExportedFolder extends LoadedModel {
  tokenizer: Tokenizer;
  onnx: Uint8Array;
}

/** Reads the folder; `read(name)` gives a file's bytes (throws if it has none). */
export async function loadExportedFolder(
  read: (name: string) => Promise<Uint8Array>,
  where: string,
): Promise<ExportedFolder> {
  const text = async (name: string) => new TextDecoder().decode(await read(name));
  const [config, weights, tokenizerJson, onnx] = await Promise.all([
    text(CONFIG_FILE),
    read(WEIGHTS_FILE),
    text("tokenizer.json"),
    read(ONNX_FILE),
  ]);
  const model = await loadHfModel(config, weights, where);
  const tokenizer = parseHfTokenizer(tokenizerJson, `${where}/tokenizer.json`);
  if (tokenizer.vocabSize !== model.config.vocabSize) {
    throw new ExportError(
      `${where}: tokenizer.json has ${tokenizer.vocabSize} tokens, config.json vocab_size ${model.config.vocabSize}`,
    );
  }
  if (model.meta === null) {
    throw new ExportError(
      `${where}/${WEIGHTS_FILE}: no run, window or model hash to check the ONNX against`,
    );
  }
  checkOnnxModel(onnx, model.meta, `${where}/${ONNX_FILE}`);
  return { ...model, tokenizer, onnx };
}
