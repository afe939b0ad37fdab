/**
 * The object of a Hugging Face byte-level BPE `tokenizer.json` (GPT-2 / LLaMA-3 style: ids
 * 0..255 are the byte characters of {@linkcode BYTE_TO_CHAR}), with every field that
 * `tokenizers` writes, so that the HF export and the test fixtures spell the format once.
 *
 * @module
 */

import { BYTE_TO_CHAR } from "./byte_level.ts";

/** What differs between byte-level BPE tokenizer files. */
export interface ByteLevelBpeParts {
  /** Tokens beyond the 256 byte characters, by id (merge results, whole words). */
  tokens?: Readonly<Record<string, number>>;
  /** The merges, by rank: pairs, or "a b" strings as older files write them. */
  merges: readonly (readonly [string, string])[] | readonly string[];
  /** The `pre_tokenizer` object. */
  preTokenizer: unknown;
  /** The `decoder` object. */
  decoder: unknown;
  /** The `added_tokens` entries (default none). */
  addedTokens?: readonly unknown[];
  /** `model.ignore_merges`: whole-word vocab entries win over merges (default false). */
  ignoreMerges?: boolean;
}

/** The `tokenizer.json` object of a byte-level BPE; `JSON.stringify` it. */
export function byteLevelBpeJson(parts: ByteLevelBpeParts): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  BYTE_TO_CHAR.forEach((c, b) => vocab[c] = b);
  Object.assign(vocab, parts.tokens);
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: parts.addedTokens ?? [],
    normalizer: null,
    pre_tokenizer: parts.preTokenizer,
    post_processor: null,
    decoder: parts.decoder,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: parts.ignoreMerges ?? false,
      vocab,
      merges: parts.merges,
    },
  };
}
