/**
 * Trains a byte-level BPE tokenizer (GPT-2 style) on a text and writes it as a Hugging Face
 * `tokenizer.json` that {@linkcode parseHfTokenizer} (and Hugging Face `tokenizers`) read.
 *
 * Deterministic by construction, so the shipped file can be checked by retraining: words come
 * from GPT-2's pre-tokenizer regex, the 256 byte symbols take ids 0…255 in byte order, and each
 * merge takes the most frequent adjacent pair, ties broken by the smaller (left id, right id).
 * No `Deno.*` here: the CLI is src/data/bpe_train_main.ts.
 *
 * @module
 */

import { BYTE_TO_CHAR } from "./byte_level.ts";
import { byteLevelBpeText } from "./byte_level_bpe_json.ts";
import { DataError } from "./errors.ts";
import { compileHfRegex } from "./hf_regex.ts";
import { GPT2_PATTERN } from "./hf_tokenizer.ts";

const encoder = new TextEncoder();

/** The vocabulary and merges of a trained model, in id / rank order. */
export interface TrainedBpe {
  /** `tokens[id]`: the token's byte-level string. */
  tokens: string[];
  /** Merges in rank order, as pairs of token strings. */
  merges: [string, string][];
}

/**
 * Learns `vocabSize - 256` merges from `text`. Stops early (a smaller vocabulary) only when no
 * pair occurs twice. Throws {@linkcode DataError} for a vocabulary below 256 or above 2^20.
 */
export function trainBpe(text: string, vocabSize: number): TrainedBpe {
  if (!Number.isInteger(vocabSize) || vocabSize < 256 || vocabSize > 2 ** 20) {
    throw new DataError(`BPE vocabulary size must be an integer in 256…2^20, got ${vocabSize}`);
  }
  // Distinct words (as byte sequences) and how often each occurs.
  const wordCount = new Map<string, number>();
  for (const m of text.matchAll(compileHfRegex(GPT2_PATTERN))) {
    wordCount.set(m[0], (wordCount.get(m[0]) ?? 0) + 1);
  }
  const words: number[][] = [];
  const counts: number[] = [];
  // Sorted so that nothing depends on the text's word order beyond the counts.
  for (const w of [...wordCount.keys()].sort()) {
    words.push([...encoder.encode(w)]);
    counts.push(wordCount.get(w)!);
  }

  const S = 2 ** 20; // pair key = left * S + right (ids < 2^20, so keys stay exact)
  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: number) => {
    const w = words[wi], c = counts[wi] * sign;
    for (let i = 0; i + 1 < w.length; i++) {
      const key = w[i] * S + w[i + 1];
      const n = (pairCount.get(key) ?? 0) + c;
      if (n === 0) pairCount.delete(key);
      else pairCount.set(key, n);
      if (sign > 0) {
        let set = where.get(key);
        if (!set) where.set(key, set = new Set());
        set.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1);

  const tokens = BYTE_TO_CHAR.slice();
  const merges: [string, string][] = [];
  while (tokens.length < vocabSize) {
    let best = -1, bestCount = 1;
    for (const [key, n] of pairCount) {
      if (n > bestCount || (n === bestCount && best >= 0 && key < best)) {
        best = key;
        bestCount = n;
      }
    }
    if (best < 0) break; // no pair occurs twice
    const a = Math.floor(best / S), b = best % S, id = tokens.length;
    merges.push([tokens[a], tokens[b]]);
    tokens.push(tokens[a] + tokens[b]);
    // Sets may list words that no longer hold the pair; re-merging them changes nothing.
    for (const wi of [...where.get(best)!].sort((x, y) => x - y)) {
      addPairs(wi, -1);
      const w = words[wi], out: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(w[i]);
      }
      words[wi] = out;
      addPairs(wi, 1);
    }
    where.delete(best);
  }
  return { tokens, merges };
}

/** GPT-2's ByteLevel pre-tokenizer and decoder: the GPT-2 regex, no prefix space. */
const BYTE_LEVEL = {
  type: "ByteLevel",
  add_prefix_space: false,
  trim_offsets: true,
  use_regex: true,
};

/**
 * The `tokenizer.json` text of a trained model ({@linkcode byteLevelBpeText}): ByteLevel
 * pre-tokenizer (GPT-2 regex, no prefix space) and decoder, no normalizer, no special tokens.
 */
export function bpeTokenizerJson(bpe: TrainedBpe): string {
  return byteLevelBpeText({
    tokens: Object.fromEntries(bpe.tokens.slice(256).map((t, i) => [t, 256 + i])),
    merges: bpe.merges,
    preTokenizer: BYTE_LEVEL,
    decoder: BYTE_LEVEL,
  });
}
