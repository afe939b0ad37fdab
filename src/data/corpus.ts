/**
 * Turns corpus files (already read into bytes) into one token stream, and fetches the
 * embedded default corpus. No `Deno.*` here: browsers use this module too; Deno entry
 * points read files with `load_corpus.ts`.
 *
 * @module
 */

import { readBinShard } from "./bin_shard.ts";
import { DataError } from "./errors.ts";
import { readTextShard } from "./text_shard.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** How a corpus file is read, from its extension. */
export type CorpusFormat = "text" | "jsonl" | "bin";

/** One corpus file's name (for messages and the format) and contents. */
export interface CorpusFile {
  /** Path or name; its extension picks the format unless `format` is given. */
  name: string;
  /** How to read the file whatever its name (e.g. a file without an extension). */
  format?: CorpusFormat;
  /** The file's bytes. */
  bytes: Uint8Array;
}

/** A tokenized corpus. */
export interface Corpus {
  /** All files' tokens, concatenated in order. */
  tokens: Uint32Array;
  /** The files it was made from, in order. */
  sources: string[];
}

/** The default corpus that ships in `data/` (see data/README.md). */
export const DEFAULT_CORPUS_URL: URL = new URL(
  "../../data/kjv_genesis_leviticus.txt",
  import.meta.url,
);

/** File extensions a corpus may use, and their formats. */
export const CORPUS_EXTENSIONS: Readonly<Record<string, CorpusFormat>> = {
  ".txt": "text",
  ".jsonl": "jsonl",
  ".bin": "bin",
};

/** The format of a corpus file from its extension; throws {@linkcode DataError} if unknown. */
export function corpusFormat(name: string): CorpusFormat {
  const format = corpusFormatOrUndefined(name);
  if (!format) {
    throw new DataError(
      `${name}: unknown corpus file extension (expected .txt, .jsonl or .bin)`,
    );
  }
  return format;
}

/** Like {@linkcode corpusFormat}, but `undefined` for an unknown extension. */
export function corpusFormatOrUndefined(name: string): CorpusFormat | undefined {
  const base = name.slice(name.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? CORPUS_EXTENSIONS[base.slice(dot).toLowerCase()] : undefined;
}

/**
 * Tokenizes files into one stream: `.txt` as one document, `.jsonl` one document per line
 * (its `jsonlField`, default `text`), `.bin` (llm.c shards) as already-tokenized ids, which
 * must be below the tokenizer's vocab size. Throws {@linkcode DataError} for an unknown
 * extension, a malformed file, or a corpus with no tokens.
 */
export function tokenizeCorpus(
  files: CorpusFile[],
  tokenizer: Tokenizer,
  { jsonlField }: { jsonlField?: string } = {},
): Corpus {
  const parts = files.map(({ name, bytes, format = corpusFormat(name) }) => {
    return format === "bin"
      ? readBinShard(bytes, { source: name, vocabSize: tokenizer.vocabSize })
      : readTextShard(bytes, { tokenizer, source: name, format, field: jsonlField });
  });
  let total = 0;
  for (const p of parts) total += p.length;
  const sources = files.map((f) => f.name);
  if (total === 0) throw new DataError(`${describe(sources)}: corpus is empty (0 tokens)`);
  const tokens = new Uint32Array(total);
  let at = 0;
  for (const p of parts) {
    tokens.set(p, at);
    at += p.length;
  }
  return { tokens, sources };
}

/**
 * Fetches and tokenizes the default corpus (browsers and any runtime with `fetch` of
 * `import.meta.url`-relative URLs).
 */
export async function fetchDefaultCorpus(tokenizer: Tokenizer): Promise<Corpus> {
  const name = DEFAULT_CORPUS_URL.pathname.slice(DEFAULT_CORPUS_URL.pathname.lastIndexOf("/") + 1);
  let bytes: Uint8Array;
  try {
    const res = await fetch(DEFAULT_CORPUS_URL);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new DataError(
      `${DEFAULT_CORPUS_URL}: cannot fetch the default corpus (${(e as Error).message})`,
    );
  }
  return tokenizeCorpus([{ name, bytes }], tokenizer);
}

/** Names a list of sources briefly: "a, b and 3 more" / "(no files)". */
function describe(sources: string[]): string {
  if (sources.length === 0) return "(no files)";
  if (sources.length <= 3) return sources.join(", ");
  return `${sources.slice(0, 3).join(", ")} and ${sources.length - 3} more`;
}
