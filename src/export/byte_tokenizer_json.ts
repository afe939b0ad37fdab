/**
 * The byte tokenizer ({@linkcode ByteTokenizer}: id = UTF-8 byte) as Hugging Face tokenizer
 * files, so Transformers and Transformers.js encode and decode the same ids.
 *
 * It is a byte-level BPE with no merges: the vocabulary is GPT-2's 256 byte characters, each
 * with its byte value as id, the ByteLevel pre-tokenizer without the GPT-2 regex (no word
 * splitting: nothing would merge anyway) and without a prefix space, and the ByteLevel
 * decoder. No special tokens: the runs train on raw byte streams.
 *
 * @module
 */

import { byteLevelBpeJson } from "../data/byte_level_bpe_json.ts";

const BYTE_LEVEL = {
  type: "ByteLevel",
  add_prefix_space: false,
  trim_offsets: false,
  use_regex: false,
};

/** The text of `tokenizer.json` for the byte tokenizer. */
export function byteTokenizerJson(): string {
  const json = byteLevelBpeJson({ merges: [], preTokenizer: BYTE_LEVEL, decoder: BYTE_LEVEL });
  return JSON.stringify(json, null, 2) + "\n";
}

/** The text of `tokenizer_config.json`: a fast tokenizer that adds no BOS/EOS. */
export function tokenizerConfigJson(context: number): string {
  return JSON.stringify(
    {
      tokenizer_class: "PreTrainedTokenizerFast",
      model_max_length: context,
      add_bos_token: false,
      add_eos_token: false,
      bos_token: null,
      eos_token: null,
      unk_token: null,
      pad_token: null,
      clean_up_tokenization_spaces: false,
    },
    null,
    2,
  ) + "\n";
}
