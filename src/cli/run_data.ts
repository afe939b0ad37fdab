/**
 * Deno-side loading of what a genesis names: its tokenizer and corpus (files checked against
 * their SHA-256), split into training and validation streams.
 *
 * @module
 */

import { ByteTokenizer } from "../data/byte_tokenizer.ts";
import { tokenizeCorpus } from "../data/corpus.ts";
import { parseHfTokenizer } from "../data/hf_tokenizer.ts";
import { readCorpusFiles } from "../data/load_corpus.ts";
import { splitTokens } from "../data/sampler.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import { GenesisError } from "../protocol/genesis.ts";
import { readGenesisRef } from "./genesis_file.ts";
import type { Genesis } from "../protocol/genesis.ts";

/** The run's token streams. */
export interface RunData {
  /** The tokenizer. */
  tokenizer: Tokenizer;
  /** Training tokens. */
  train: Uint32Array;
  /** Held-out tokens. */
  valid: Uint32Array;
}

/**
 * Loads the tokenizer and corpus of `genesis`, read from `genesisPath` (file references are
 * relative to its folder), else from `contentDir` (the copies downloaded from the run).
 * Throws `GenesisError` or `DataError` with the file named.
 */
export async function loadRunData(
  genesis: Genesis,
  genesisPath: string,
  contentDir?: string,
): Promise<RunData> {
  const tokenizer = genesis.tokenizer === "bytes" ? new ByteTokenizer() : parseHfTokenizer(
    new TextDecoder().decode(
      await readGenesisRef(genesisPath, "tokenizer", genesis.tokenizer, contentDir),
    ),
    genesis.tokenizer.path,
  );
  if (tokenizer.vocabSize !== genesis.model.vocabSize) {
    throw new GenesisError(
      `${genesisPath}: model.vocabSize ${genesis.model.vocabSize} does not match the tokenizer's ${tokenizer.vocabSize}`,
    );
  }
  const corpus = genesis.data.corpus;
  const files = corpus === "default"
    ? await readCorpusFiles([])
    : await Promise.all(corpus.map(async (ref, i) => ({
      name: ref.path,
      bytes: await readGenesisRef(genesisPath, `data.corpus[${i}]`, ref, contentDir),
    })));
  const { tokens } = tokenizeCorpus(files, tokenizer);
  return { tokenizer, ...splitTokens(tokens, genesis.data.validFraction) };
}
