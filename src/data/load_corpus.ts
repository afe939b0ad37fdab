/**
 * Deno-only: reads corpus files and directories from disk. Browser code uses
 * `corpus.ts` directly with bytes it has fetched.
 *
 * @module
 */

import {
  type Corpus,
  type CorpusFile,
  type CorpusFormat,
  corpusFormat,
  corpusFormatOrUndefined,
  DEFAULT_CORPUS_URL,
  tokenizeCorpus,
} from "./corpus.ts";
import { DataError } from "./errors.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** How {@linkcode loadCorpus} reads files. */
export interface LoadCorpusOptions {
  /**
   * Read every file in this format whatever its name, so files without an extension (or with
   * another one) can be used; a directory then contributes every non-hidden file under it.
   * Absent: each file's extension picks its format.
   */
  format?: CorpusFormat;
  /** The JSONL field that holds a document's text; default `"text"`. */
  jsonlField?: string;
}

/**
 * Loads and tokenizes a corpus from `.txt`, `.jsonl` and `.bin` files or directories of
 * them (any files, with `format`); with no paths, the embedded default corpus. Throws
 * {@linkcode DataError} naming the path for a missing file, an unknown extension, a malformed
 * file, or an empty corpus.
 *
 * @example
 * ```ts
 * const { tokens } = await loadCorpus(["shards/"], new ByteTokenizer());
 * const docs = await loadCorpus(["dump"], tok, { format: "jsonl", jsonlField: "content" });
 * ```
 */
export async function loadCorpus(
  paths: string[],
  tokenizer: Tokenizer,
  options: LoadCorpusOptions = {},
): Promise<Corpus> {
  return tokenizeCorpus(await readCorpusFiles(paths, options.format), tokenizer, options);
}

/**
 * Reads the files named by `paths` in order. A directory contributes every `.txt`,
 * `.jsonl` and `.bin` file under it (recursively, sorted by path; hidden entries and other
 * extensions are skipped), or every non-hidden file when `format` is given; each file then
 * carries `format`. No paths: the default corpus.
 */
export async function readCorpusFiles(
  paths: string[],
  format?: CorpusFormat,
): Promise<CorpusFile[]> {
  if (paths.length === 0) {
    const name = DEFAULT_CORPUS_URL.pathname.slice(
      DEFAULT_CORPUS_URL.pathname.lastIndexOf("/") + 1,
    );
    return [{ name, bytes: await readFile(DEFAULT_CORPUS_URL, name) }];
  }
  const files: CorpusFile[] = [];
  for (const path of paths) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (e) {
      throw fsError(path, e);
    }
    if (info.isDirectory) {
      const found = await listDir(path, format !== undefined);
      if (found.length === 0) {
        throw new DataError(
          `${path}: no ${format === undefined ? ".txt, .jsonl or .bin " : ""}files in this directory`,
        );
      }
      for (const f of found) files.push(withFormat({ name: f, bytes: await readFile(f, f) }, format));
    } else {
      // Fail on an unknown extension before reading a large file.
      if (format === undefined) corpusFormat(path);
      files.push(withFormat({ name: path, bytes: await readFile(path, path) }, format));
    }
  }
  return files;
}

/** `file`, reading as `format` when one is given. */
function withFormat(file: CorpusFile, format: CorpusFormat | undefined): CorpusFile {
  return format === undefined ? file : { ...file, format };
}

/**
 * Corpus files under `dir` (every file when `any`), recursively, sorted by path for a
 * deterministic order.
 */
async function listDir(dir: string, any: boolean): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch (e) {
      throw fsError(d, e);
    }
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const p = `${d.replace(/\/+$/, "")}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile && (any || corpusFormatOrUndefined(p))) out.push(p);
    }
  };
  await walk(dir);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

async function readFile(path: string | URL, name: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw fsError(name, e);
  }
}

function fsError(path: string, e: unknown): DataError {
  if (e instanceof Deno.errors.NotFound) {
    return new DataError(`${path}: no such file or directory`);
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new DataError(`${path}: permission denied`);
  }
  return new DataError(`${path}: cannot read (${(e as Error).message})`);
}
