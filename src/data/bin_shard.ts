/**
 * The llm.c / nanoGPT binary token shard: a header of 256 little-endian int32 (magic,
 * version, token count, then zeros) followed by the tokens, little-endian.
 *
 * | magic | version | tokens | used for |
 * |---|---|---|---|
 * | 20240520 | 1 | uint16 | GPT-2 |
 * | 20240801 | 7 | uint32 | LLaMA-3 |
 *
 * Works on bytes, so browsers can use it; reading files is the caller's job.
 *
 * @module
 */

import { DataError } from "./errors.ts";

/** Bytes in a shard header (256 int32). */
export const BIN_HEADER_BYTES = 1024;
/** Magic of uint16 shards (GPT-2). */
export const BIN_MAGIC_U16 = 20240520;
/** Magic of uint32 shards (LLaMA-3). */
export const BIN_MAGIC_U32 = 20240801;

const FORMATS: Record<number, { version: number; width: 2 | 4 }> = {
  [BIN_MAGIC_U16]: { version: 1, width: 2 },
  [BIN_MAGIC_U32]: { version: 7, width: 4 },
};

/** How to read a shard. */
export interface BinShardOptions {
  /** Names the shard in error messages (usually its path). */
  source: string;
  /** If given, every token must be below it. */
  vocabSize?: number;
}

/**
 * Reads an llm.c shard strictly: the magic, version, and payload length must match the
 * header exactly, and tokens must be below `vocabSize` when it is given. Throws
 * {@linkcode DataError} naming the source, what was expected and what was found.
 */
export function readBinShard(bytes: Uint8Array, opts: BinShardOptions): Uint32Array {
  const { source } = opts;
  const fail = (msg: string): never => {
    throw new DataError(`${source}: ${msg}`);
  };
  if (bytes.length < BIN_HEADER_BYTES) {
    fail(`too short for an llm.c shard: ${bytes.length} bytes, the header alone is 1024`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getInt32(0, true);
  const version = view.getInt32(4, true);
  const count = view.getInt32(8, true);
  const format = FORMATS[magic];
  if (!format) {
    fail(`bad magic ${magic} (expected ${BIN_MAGIC_U16} or ${BIN_MAGIC_U32}); not an llm.c shard`);
  }
  if (version !== format.version) {
    fail(`unknown version ${version} for magic ${magic} (expected ${format.version})`);
  }
  if (count < 0) fail(`negative token count ${count} in the header`);
  const payload = bytes.length - BIN_HEADER_BYTES;
  const want = count * format.width;
  if (payload < want) {
    fail(
      `truncated: the header says ${count} tokens (${want} bytes) but only ${payload} bytes follow`,
    );
  }
  if (payload > want) {
    fail(`${payload - want} bytes after the ${count} tokens (${want} bytes) the header declares`);
  }
  const tokens = new Uint32Array(count);
  if (format.width === 2) {
    for (let i = 0; i < count; i++) tokens[i] = view.getUint16(BIN_HEADER_BYTES + 2 * i, true);
  } else {
    for (let i = 0; i < count; i++) tokens[i] = view.getUint32(BIN_HEADER_BYTES + 4 * i, true);
  }
  const { vocabSize } = opts;
  if (vocabSize !== undefined) {
    for (let i = 0; i < count; i++) {
      if (tokens[i] >= vocabSize) {
        fail(
          `token ${tokens[i]} at index ${i} is not below the vocab size ${vocabSize} ` +
            `(was the shard made with another tokenizer?)`,
        );
      }
    }
  }
  return tokens;
}

/**
 * Writes tokens as an llm.c shard: uint16 (magic 20240520, version 1) when `width` is 2,
 * uint32 (magic 20240801, version 7) when it is 4. By default, uint16 if every token fits.
 */
export function writeBinShard(tokens: ArrayLike<number>, width?: 2 | 4): Uint8Array {
  let max = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!Number.isInteger(t) || t < 0 || t > 0xffffffff) {
      throw new RangeError(`token ${t} at index ${i} is not a uint32`);
    }
    max = Math.max(max, t);
  }
  const w = width ?? (max < 65536 ? 2 : 4);
  if (w === 2 && max >= 65536) {
    throw new DataError(`token ${max} does not fit in a uint16 shard; write a uint32 one`);
  }
  if (tokens.length > 0x7fffffff) {
    throw new DataError(`${tokens.length} tokens do not fit in one shard (at most 2^31 - 1)`);
  }
  const bytes = new Uint8Array(BIN_HEADER_BYTES + tokens.length * w);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, w === 2 ? BIN_MAGIC_U16 : BIN_MAGIC_U32, true);
  view.setInt32(4, w === 2 ? 1 : 7, true);
  view.setInt32(8, tokens.length, true);
  for (let i = 0; i < tokens.length; i++) {
    if (w === 2) view.setUint16(BIN_HEADER_BYTES + 2 * i, tokens[i], true);
    else view.setUint32(BIN_HEADER_BYTES + 4 * i, tokens[i], true);
  }
  return bytes;
}
