/**
 * Wire format of one peer's SparseLoCo update for one window, with a strict decoder.
 *
 * All integers little-endian. Version 1:
 *
 * ```
 * header (78 bytes)
 *   0  magic "WLUP"          4 bytes
 *   4  format version        u8  (1)
 *   5  index mode            u8  (0 packed, 1 Rice)
 *   6  reserved              u16 (0)
 *   8  run id                32 bytes
 *  40  window                u32
 *  44  model hash            32 bytes (of θ the update was trained from)
 *  76  tensor count          u16
 * per tensor, ids strictly ascending
 *      tensor id             u16
 *      ndims                 u8  (1..8)
 *      dims                  u32 × ndims (each ≥ 1)
 *      tile rows, tile cols  u32, u32 (1-D: 1 and the chunk length)
 *      k                     u32 (kept per full tile, 1..tile size)
 *      table                 f32 × 4 (finite)
 *      rice parameter        u8  (mode 0: 0)
 *      index bytes           u32
 *      index stream          index bytes
 *      codes                 ceil(kept / 4) bytes, 2 bits per code, LSB first, zero padding
 * ```
 *
 * Index stream: every tile that keeps fewer entries than it has, in tile order; a tile kept
 * whole (1-D tensors, tiny tiles) has implicit indices 0..size−1 and costs no index bits.
 * Indices are tile-local and strictly ascending in each tile; codes follow that order.
 * - Mode 0: each index in ceil(log2 tileSize) bits (12 for a 4096-entry tile, 16 for 65536),
 *   LSB first, one stream for the tensor, zero-padded to a byte: 112 bytes per 64-of-4096 tile.
 * - Mode 1: each tile's indices as gaps (first index, then index − previous − 1), each a
 *   Golomb–Rice code (unary quotient as 1-bits ended by a 0-bit, then b low bits). b is per
 *   tensor: the smallest b in 0..ceil(log2 tileSize) with the fewest bits. ≈ 76 bytes per tile.
 *
 * The encoding is canonical: one update has exactly one encoding in each mode, and the decoder
 * accepts nothing else (sorted indices, zero padding, the rule's Rice parameter), so equal
 * updates have equal bytes and hashes.
 *
 * @module
 */

import type { QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { MAX_TILE_SIZE, TileGeometry } from "../reference/sparseloco/tiles.ts";
import type { TileOptions } from "../reference/sparseloco/tiles.ts";
import { BitReader, bitsFor, BitWriter, chooseRiceParameter, riceBits } from "./bits.ts";
import { CodecError } from "./errors.ts";
import { bytesEqual } from "../util/bytes.ts";
import { sameShape } from "../util/shape.ts";

/** "WLUP". */
export const UPDATE_MAGIC: Uint8Array = new Uint8Array([0x57, 0x4c, 0x55, 0x50]);
/** The format version this module writes and reads. */
export const UPDATE_FORMAT_VERSION = 1;
/** Bytes before the first tensor. */
export const UPDATE_HEADER_BYTES = 78;
/** Default limit on a message's size (64 MiB). */
export const DEFAULT_MAX_UPDATE_BYTES = 64 * 1024 * 1024;
/** Most dims a tensor may have on the wire. */
export const MAX_DIMS = 8;

/** 0: packed fixed-width indices (the reference's 12 bits); 1: Rice-coded sorted gaps. */
export type IndexMode = 0 | 1;

/** The default index mode of {@link encodeUpdate}: compact. */
export const DEFAULT_INDEX_MODE: IndexMode = 1;

/** One tensor of an update: a quantized compressed tensor and its id in the model's layout. */
export interface UpdateTensor extends QuantizedTensor {
  /** Position of the tensor in the model's layout (0..65535). */
  id: number;
}

/** One peer's update for one window. */
export interface Update {
  /** Index coding; {@link DEFAULT_INDEX_MODE} when absent. Set by the decoder. */
  indexMode?: IndexMode;
  /** The run's id (32 bytes). */
  runId: Uint8Array;
  /** The window the update belongs to (u32). */
  window: number;
  /** Hash of the model the update was trained from (32 bytes). */
  modelHash: Uint8Array;
  /** The tensors, ids strictly ascending. */
  tensors: UpdateTensor[];
}

/** What a receiver expects of a message; each field is checked when given. */
export interface ExpectedUpdate {
  /** The run's id. */
  runId?: Uint8Array;
  /** The window. */
  window?: number;
  /** The model hash. */
  modelHash?: Uint8Array;
  /** The model's tensor shapes in layout order: the message must hold tensors 0..n−1, these shapes. */
  tensorShapes?: readonly (readonly number[])[];
  /** The run's tiling: each tensor's tile geometry must be the one these options give. */
  tiles?: Partial<TileOptions>;
  /** The run's k per tile: each tensor must keep min(k, tile size) (1-D tensors: all). */
  k?: number;
  /** The index mode. */
  indexMode?: IndexMode;
}

/** Limits of {@link decodeUpdate}. */
export interface DecodeLimits {
  /** Largest message accepted, in bytes. Default {@link DEFAULT_MAX_UPDATE_BYTES}. */
  maxBytes?: number;
  /** What the message must match. */
  expected?: ExpectedUpdate;
}

const HASH_BYTES = 32;
/** Fewest bytes a tensor can take: fixed fields, one dim, one byte of codes. */
const MIN_TENSOR_BYTES = 2 + 1 + 4 + 4 + 4 + 4 + 16 + 1 + 4 + 1;

/** Entries of each tile that are coded in the index stream (0 for a tile kept whole). */
function codedTiles(g: TileGeometry, k: number): { count: number; perTile: (t: number) => number } {
  const perTile = (t: number) => {
    const size = g.tileSize(t);
    return k >= size ? 0 : k;
  };
  let count = 0;
  if (g.tileCount > 0) count = (g.tileCount - 1) * perTile(0) + perTile(g.tileCount - 1);
  return { count, perTile };
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Appends to a growing byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function isU32(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/**
 * Encodes an update. Indices of each tile may come in any order (they are sorted, codes with
 * them); everything else must be well-formed, or a `CodecError` says what is not.
 */
export function encodeUpdate(update: Update): Uint8Array {
  const mode = update.indexMode ?? DEFAULT_INDEX_MODE;
  if (mode !== 0 && mode !== 1) throw new CodecError(`encode: unknown index mode ${mode}`);
  if (update.runId?.length !== HASH_BYTES) throw new CodecError("encode: run id is not 32 bytes");
  if (update.modelHash?.length !== HASH_BYTES) {
    throw new CodecError("encode: model hash is not 32 bytes");
  }
  if (!isU32(update.window)) throw new CodecError(`encode: window ${update.window} is not a u32`);
  if (update.tensors.length > 0xffff) throw new CodecError("encode: more than 65535 tensors");

  const w = new ByteWriter();
  w.bytes(UPDATE_MAGIC);
  w.u8(UPDATE_FORMAT_VERSION);
  w.u8(mode);
  w.u16(0);
  w.bytes(update.runId);
  w.u32(update.window);
  w.bytes(update.modelHash);
  w.u16(update.tensors.length);
  let prevId = -1;
  update.tensors.forEach((t, n) => {
    if (!Number.isInteger(t.id) || t.id <= prevId || t.id > 0xffff) {
      throw new CodecError(`encode: tensor id ${t.id} not ascending in 0..65535`, { tensor: n });
    }
    prevId = t.id;
    encodeTensor(w, t, n, mode);
  });
  return w.finish();
}

function encodeTensor(w: ByteWriter, t: UpdateTensor, n: number, mode: IndexMode): void {
  const at = { tensor: n };
  if (t.shape.length < 1 || t.shape.length > MAX_DIMS || !t.shape.every(isU32)) {
    throw new CodecError(`encode: bad shape [${t.shape}]`, at);
  }
  let g: TileGeometry;
  try {
    g = new TileGeometry(t.shape, t.tileRows, t.tileCols);
  } catch (e) {
    throw new CodecError(`encode: ${(e as Error).message}`, at);
  }
  if (!Number.isInteger(t.k) || t.k < 1 || t.k > g.fullTileSize) {
    throw new CodecError(`encode: k ${t.k} not in 1..${g.fullTileSize}`, at);
  }
  const count = g.selectedCount(t.k);
  if (!t.codes || !t.table || t.table.length !== 4) {
    throw new CodecError("encode: tensor is not quantized (codes and a 4-entry table)", at);
  }
  if (t.indices.length !== count || t.codes.length !== count) {
    throw new CodecError(
      `encode: ${t.indices.length} indices and ${t.codes.length} codes, expected ${count}`,
      at,
    );
  }
  for (const v of t.table) {
    if (!Number.isFinite(v)) throw new CodecError("encode: non-finite table entry", at);
  }

  // Canonical order: indices ascending within each tile, codes along.
  const indices = new Uint16Array(count);
  const codes = new Uint8Array(count);
  const coded = codedTiles(g, t.k);
  const gaps = new Uint16Array(coded.count);
  let gi = 0;
  const order: number[] = [];
  for (let tile = 0; tile < g.tileCount; tile++) {
    const start = g.tileStart(tile, t.k);
    const kt = g.tileK(tile, t.k);
    const size = g.tileSize(tile);
    order.length = 0;
    for (let j = 0; j < kt; j++) order.push(start + j);
    order.sort((a, b) => t.indices[a] - t.indices[b]);
    let prev = -1;
    for (let j = 0; j < kt; j++) {
      const idx = t.indices[order[j]];
      const code = t.codes[order[j]];
      if (idx >= size) {
        throw new CodecError(`encode: index ${idx} outside a tile of ${size}`, { ...at, tile });
      }
      if (idx === prev) throw new CodecError(`encode: duplicate index ${idx}`, { ...at, tile });
      if (code > 3) throw new CodecError(`encode: code ${code} above 3`, { ...at, tile });
      indices[start + j] = idx;
      codes[start + j] = code;
      if (coded.perTile(tile) > 0) gaps[gi++] = idx - prev - 1;
      prev = idx;
    }
  }

  w.u16(t.id);
  w.u8(t.shape.length);
  for (const d of t.shape) w.u32(d);
  w.u32(t.tileRows);
  w.u32(t.tileCols);
  w.u32(t.k);
  for (const v of t.table) w.f32(v);

  let stream: Uint8Array;
  let rice = 0;
  if (mode === 0) {
    const bits = bitsFor(g.fullTileSize);
    const lastBits = bitsFor(g.tileSize(g.tileCount - 1));
    const total = coded.count * bits - (coded.perTile(g.tileCount - 1) * (bits - lastBits));
    const bw = new BitWriter(Math.ceil(total / 8));
    for (let tile = 0; tile < g.tileCount; tile++) {
      if (coded.perTile(tile) === 0) continue;
      const b = bitsFor(g.tileSize(tile));
      const start = g.tileStart(tile, t.k);
      for (let j = 0; j < coded.perTile(tile); j++) bw.write(indices[start + j], b);
    }
    stream = bw.bytes;
  } else {
    let total: number;
    [rice, total] = coded.count > 0 ? chooseRiceParameter(gaps, bitsFor(g.fullTileSize)) : [0, 0];
    const bw = new BitWriter(Math.ceil(total / 8));
    for (let i = 0; i < gaps.length; i++) bw.writeRice(gaps[i], rice);
    stream = bw.bytes;
  }
  w.u8(rice);
  w.u32(stream.length);
  w.bytes(stream);
  const packed = new Uint8Array(Math.ceil(count / 4));
  for (let j = 0; j < count; j++) packed[j >> 2] |= codes[j] << ((j & 3) * 2);
  w.bytes(packed);
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Reads a message with every access checked against its end. */
class Reader {
  pos = 0;
  private readonly view: DataView;
  tensor?: number;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get left(): number {
    return this.bytes.length - this.pos;
  }

  fail(what: string, offset = this.pos, tile?: number): never {
    throw new CodecError(what, { tensor: this.tensor, tile, offset });
  }

  need(n: number, what: string): void {
    if (n > this.left) {
      this.fail(`truncated: ${what} needs ${n} bytes, ${this.left} left`);
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++];
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f32(what: string): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/**
 * Decodes and checks an update. Throws `CodecError` (one line: what, and where: tensor, tile,
 * byte offset) for anything malformed, oversized, non-canonical or unexpected; never another
 * error, never allocates more than a small multiple of the message's size.
 */
export function decodeUpdate(bytes: Uint8Array, limits: DecodeLimits = {}): Update {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_UPDATE_BYTES;
  const expected = limits.expected ?? {};
  if (!(bytes instanceof Uint8Array)) throw new CodecError("message is not a Uint8Array");
  if (bytes.length > maxBytes) {
    throw new CodecError(`message of ${bytes.length} bytes exceeds the limit of ${maxBytes}`);
  }
  const r = new Reader(bytes);
  r.need(UPDATE_HEADER_BYTES, "header");
  if (!bytesEqual(r.take(4, "magic"), UPDATE_MAGIC)) r.fail("bad magic", 0);
  const version = r.u8("version");
  if (version !== UPDATE_FORMAT_VERSION) r.fail(`unsupported format version ${version}`, 4);
  const rawMode = r.u8("index mode");
  if (rawMode !== 0 && rawMode !== 1) r.fail(`unknown index mode ${rawMode}`, 5);
  const mode = rawMode as IndexMode;
  if (expected.indexMode !== undefined && mode !== expected.indexMode) {
    r.fail(`index mode ${mode}, expected ${expected.indexMode}`, 5);
  }
  if (r.u16("reserved") !== 0) r.fail("reserved header bits set", 6);
  const runId = r.take(HASH_BYTES, "run id");
  if (expected.runId && !bytesEqual(runId, expected.runId)) r.fail("wrong run id", 8);
  const window = r.u32("window");
  if (expected.window !== undefined && window !== expected.window) {
    r.fail(`window ${window}, expected ${expected.window}`, 40);
  }
  const modelHash = r.take(HASH_BYTES, "model hash");
  if (expected.modelHash && !bytesEqual(modelHash, expected.modelHash)) {
    r.fail("wrong model hash", 44);
  }
  const tensorCount = r.u16("tensor count");
  const shapes = expected.tensorShapes;
  if (shapes && tensorCount !== shapes.length) {
    r.fail(`${tensorCount} tensors, expected ${shapes.length}`, 76);
  }
  if (tensorCount * MIN_TENSOR_BYTES > r.left) {
    r.fail(`${tensorCount} tensors cannot fit in ${r.left} bytes`, 76);
  }
  const tensors: UpdateTensor[] = [];
  let prevId = -1;
  for (let n = 0; n < tensorCount; n++) {
    r.tensor = n;
    const t = decodeTensor(r, mode, expected, shapes?.[n], n, prevId);
    prevId = t.id;
    tensors.push(t);
  }
  r.tensor = undefined;
  if (r.left !== 0) r.fail(`${r.left} trailing bytes`);
  return { indexMode: mode, runId, window, modelHash, tensors };
}

function decodeTensor(
  r: Reader,
  mode: IndexMode,
  expected: ExpectedUpdate,
  expectedShape: readonly number[] | undefined,
  n: number,
  prevId: number,
): UpdateTensor {
  const start = r.pos;
  const id = r.u16("tensor id");
  if (id <= prevId) r.fail(`tensor id ${id} not ascending`, start);
  if (expected.tensorShapes && id !== n) r.fail(`tensor id ${id}, expected ${n}`, start);
  const ndims = r.u8("ndims");
  if (ndims < 1 || ndims > MAX_DIMS) r.fail(`ndims ${ndims} not in 1..${MAX_DIMS}`, start + 2);
  const shape: number[] = [];
  let numel = 1;
  for (let i = 0; i < ndims; i++) {
    const d = r.u32("dims");
    if (d < 1) r.fail(`dim ${i} is 0`, r.pos - 4);
    shape.push(d);
    numel *= d;
  }
  if (!Number.isSafeInteger(numel)) r.fail(`shape [${shape}] too large`, start + 3);
  if (expectedShape && !sameShape(shape, expectedShape)) {
    r.fail(`shape [${shape}], expected [${expectedShape}]`, start + 3);
  }
  const geoAt = r.pos;
  const tileRows = r.u32("tile rows");
  const tileCols = r.u32("tile cols");
  if (tileRows < 1 || tileCols < 1 || tileRows * tileCols > MAX_TILE_SIZE) {
    r.fail(`tile ${tileRows}×${tileCols} not within 1..${MAX_TILE_SIZE} entries`, geoAt);
  }
  let g: TileGeometry;
  try {
    g = new TileGeometry(shape, tileRows, tileCols);
  } catch (e) {
    r.fail(`bad tile geometry: ${(e as Error).message}`, geoAt);
  }
  if (expected.tiles) {
    let want: TileGeometry;
    try {
      want = TileGeometry.forShape(shape, expected.tiles);
    } catch (e) {
      r.fail(`expected tiling impossible: ${(e as Error).message}`, geoAt);
    }
    if (want.tileRows !== tileRows || want.tileCols !== tileCols) {
      r.fail(`tile ${tileRows}×${tileCols}, expected ${want.tileRows}×${want.tileCols}`, geoAt);
    }
  }
  const k = r.u32("k");
  if (k < 1 || k > g.fullTileSize) r.fail(`k ${k} not in 1..${g.fullTileSize}`, r.pos - 4);
  if (expected.k !== undefined) {
    const want = g.oneD ? g.fullTileSize : Math.min(expected.k, g.fullTileSize);
    if (k !== want) r.fail(`k ${k}, expected ${want}`, r.pos - 4);
  }
  const table = new Float32Array(4);
  for (let c = 0; c < 4; c++) {
    table[c] = r.f32("table");
    if (!Number.isFinite(table[c])) r.fail(`table entry ${c} is not finite`, r.pos - 4);
  }
  const rice = r.u8("rice parameter");
  const maxRice = mode === 0 ? 0 : bitsFor(g.fullTileSize);
  if (rice > maxRice) r.fail(`rice parameter ${rice} above ${maxRice}`, r.pos - 1);
  const indexBytes = r.u32("index byte count");
  const count = g.selectedCount(k);
  const codeBytes = Math.ceil(count / 4);
  // Check the declared and implied sizes against what is left before allocating anything.
  if (indexBytes > r.left || codeBytes > r.left - indexBytes) {
    r.fail(
      `truncated: ${indexBytes} index bytes and ${codeBytes} code bytes, ${r.left} left`,
      r.pos - 4,
    );
  }
  const coded = codedTiles(g, k);
  const streamAt = r.pos;
  if (mode === 0) {
    const bits = bitsFor(g.fullTileSize);
    const lastBits = bitsFor(g.tileSize(g.tileCount - 1));
    const total = coded.count * bits - coded.perTile(g.tileCount - 1) * (bits - lastBits);
    if (indexBytes !== Math.ceil(total / 8)) {
      r.fail(`index byte count ${indexBytes}, expected ${Math.ceil(total / 8)}`, streamAt - 4);
    }
  } else if (indexBytes * 8 < coded.count * (rice + 1)) {
    // Every Rice code takes at least rice + 1 bits.
    r.fail(`index byte count ${indexBytes} too small for ${coded.count} indices`, streamAt - 4);
  }

  const indices = new Uint16Array(count);
  const where = { tensor: n };
  const br = new BitReader(r.bytes, streamAt, indexBytes, where);
  const riceCost = mode === 1 ? new Float64Array(maxRice + 1) : undefined;
  let j = 0;
  for (let tile = 0; tile < g.tileCount; tile++) {
    const size = g.tileSize(tile);
    const kt = g.tileK(tile, k);
    if (coded.perTile(tile) === 0) {
      for (let i = 0; i < kt; i++) indices[j++] = i;
      continue;
    }
    let prev = -1;
    if (mode === 0) {
      const b = bitsFor(size);
      for (let i = 0; i < kt; i++) {
        const idx = br.read(b, tile);
        if (idx >= size) failAt(br, streamAt, `index ${idx} outside a tile of ${size}`, n, tile);
        if (idx === prev) failAt(br, streamAt, `duplicate index ${idx}`, n, tile);
        if (idx < prev) failAt(br, streamAt, `index ${idx} not ascending`, n, tile);
        indices[j++] = idx;
        prev = idx;
      }
    } else {
      for (let i = 0; i < kt; i++) {
        // Room for this index and the kt − i − 1 after it.
        const max = size - (kt - i) - (prev + 1);
        if (max < 0) failAt(br, streamAt, "tile cannot hold its k indices", n, tile);
        const gap = br.readRice(rice, max, tile);
        for (let b = 0; b <= maxRice; b++) riceCost![b] += riceBits(gap, b);
        prev += gap + 1;
        indices[j++] = prev;
      }
    }
  }
  br.finish();
  if (riceCost) {
    let best = 0;
    for (let b = 1; b <= maxRice; b++) if (riceCost[b] < riceCost[best]) best = b;
    if (coded.count === 0) best = 0;
    if (rice !== best) r.fail(`rice parameter ${rice}, canonical is ${best}`, streamAt - 5);
  }
  r.pos = streamAt + indexBytes;

  const codesAt = r.pos;
  const packed = r.take(codeBytes, "codes");
  const codes = new Uint8Array(count);
  for (let i = 0; i < count; i++) codes[i] = (packed[i >> 2] >> ((i & 3) * 2)) & 3;
  if (count % 4 !== 0 && packed[codeBytes - 1] >> ((count % 4) * 2) !== 0) {
    r.fail("nonzero code padding bits", codesAt + codeBytes - 1);
  }
  return { id, shape, tileRows, tileCols, k, indices, codes, table };
}

function failAt(
  br: BitReader,
  streamAt: number,
  what: string,
  tensor: number,
  tile: number,
): never {
  throw new CodecError(what, { tensor, tile, offset: streamAt + ((br.bitLength - 1) >> 3) });
}
