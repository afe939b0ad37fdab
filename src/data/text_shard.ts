/**
 * Tokens from text shards: plain UTF-8 text, or JSONL with one `{"text": …}` document per
 * line. Works on bytes or strings, so browsers can use it; reading files is the caller's job.
 *
 * @module
 */

import { DataError } from "./errors.ts";
import { jsonErrorPosition } from "./json_error.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** How to read one text shard. */
export interface TextShardOptions {
  /** Tokenizer to encode with. */
  tokenizer: Tokenizer;
  /** Names the shard in error messages (usually its path). */
  source: string;
  /** `"text"` (default): the whole file is one document; `"jsonl"`: one per line. */
  format?: "text" | "jsonl";
  /** The JSONL field that holds a document's text; default `"text"`. */
  field?: string;
  /** Ids put between JSONL documents; default: the tokenizer's encoding of "\n\n". */
  separator?: ArrayLike<number>;
}

/**
 * Reads a text or JSONL shard and returns its tokens, JSONL documents joined by
 * `separator`. Throws {@linkcode DataError} for invalid UTF-8 or a bad JSONL line.
 *
 * @example
 * ```ts
 * const tokens = readTextShard('{"text":"hi"}\n', {
 *   tokenizer: new ByteTokenizer(), source: "a.jsonl", format: "jsonl",
 * }); // Uint32Array [104, 105]
 * ```
 */
export function readTextShard(data: Uint8Array | string, opts: TextShardOptions): Uint32Array {
  const text = typeof data === "string" ? data : decodeUtf8(data, opts.source);
  const { tokenizer } = opts;
  if ((opts.format ?? "text") === "text") return tokenizer.encode(text);
  const docs = parseJsonl(text, opts.source, opts.field).map((d) => tokenizer.encode(d));
  const sep = opts.separator ?? tokenizer.encode("\n\n");
  let total = 0;
  for (const d of docs) total += d.length;
  const out = new Uint32Array(total + Math.max(0, docs.length - 1) * sep.length);
  let at = 0;
  docs.forEach((d, i) => {
    if (i > 0) {
      out.set(sep, at);
      at += sep.length;
    }
    out.set(d, at);
    at += d.length;
  });
  return out;
}

/**
 * Parses JSONL text into its documents' `field` (default `text`). Blank lines are skipped; any
 * other line must be a JSON object with a string `field`, else a {@linkcode DataError} names
 * the source and the 1-based line number.
 */
export function parseJsonl(text: string, source: string, field = "text"): string[] {
  const docs: string[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new DataError(`${source}:${i + 1}: not valid JSON${jsonErrorColumn(line)}`);
    }
    if (
      typeof value !== "object" || value === null || Array.isArray(value) ||
      typeof (value as Record<string, unknown>)[field] !== "string"
    ) {
      throw new DataError(
        `${source}:${i + 1}: expected an object with a string ${JSON.stringify(field)} field`,
      );
    }
    docs.push((value as Record<string, string>)[field]);
  });
  return docs;
}

function jsonErrorColumn(line: string): string {
  const pos = jsonErrorPosition(line);
  return pos === undefined ? "" : ` at column ${pos + 1}`;
}

/** Decodes UTF-8 strictly (a leading BOM is dropped), naming the source on failure. */
export function decodeUtf8(bytes: Uint8Array, source: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new DataError(`${source}: not valid UTF-8 text`);
  }
}
