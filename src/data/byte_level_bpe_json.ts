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

/**
 * The `tokenizer.json` text of a byte-level BPE ({@linkcode byteLevelBpeJson}'s object) laid
 * out as a diff-friendly file: two-space indentation, the pre-tokenizer, the decoder and each
 * merge on one line, the vocabulary in id order. Not `JSON.stringify` alone: a JavaScript
 * object puts digit-only keys ("0", "12") before the others, which scrambles the vocabulary's
 * order (data/kjv_bpe_4096.json is written this way, byte for byte).
 */
export function byteLevelBpeText(parts: ByteLevelBpeParts): string {
  const json = byteLevelBpeJson(parts);
  const model = json.model as Record<string, unknown>;
  const vocab = Object.entries(model.vocab as Record<string, number>).sort((a, b) => a[1] - b[1]);
  const laidOut = new Map<string, string>([
    ["pre_tokenizer", oneLine(json.pre_tokenizer)],
    ["decoder", oneLine(json.decoder)],
    ["vocab", block("{", "}", vocab.map(([t, id]) => `${JSON.stringify(t)}: ${id}`))],
    ["merges", block("[", "]", (model.merges as unknown[]).map(oneLine))],
  ]);
  // Each laid-out value stands in as its key's name until the rest is stringified.
  const mark = (key: string) => `\u0000${key}\u0000`;
  const marked = {
    ...json,
    pre_tokenizer: mark("pre_tokenizer"),
    decoder: mark("decoder"),
    model: { ...model, vocab: mark("vocab"), merges: mark("merges") },
  };
  return JSON.stringify(marked, null, 2).replace(
    /"\\u0000(\w+)\\u0000"/g,
    (_, key: string) => laidOut.get(key)!,
  ) + "\n";
}

/** A model field's members, one per line at the depth of `model.vocab`'s entries. */
function block(open: string, close: string, lines: string[]): string {
  if (lines.length === 0) return open + close;
  return `${open}\n${lines.map((l) => `      ${l}`).join(",\n")}\n    ${close}`;
}

/** `v` as JSON on one line, with a space after each `:` and `,`. */
function oneLine(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(oneLine).join(", ")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${oneLine(x)}`);
    return `{${entries.join(", ")}}`;
  }
  return JSON.stringify(v);
}
