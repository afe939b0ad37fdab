/**
 * SparseLoCo compression of one tensor, the plain-TypeScript reference: error feedback, per-tile
 * top-k, per-tensor 2-bit quantization, and feeding the quantization error back.
 *
 * @module
 */

import { DEFAULT_QUANTIZE_OPTIONS, dequantize2Bit, quantize2Bit } from "./quantize.ts";
import type { QuantizeOptions } from "./quantize.ts";
import { selectTopK } from "./select_top_k.ts";
import { DEFAULT_TILE_OPTIONS, TileGeometry } from "./tiles.ts";
import type { TileOptions } from "./tiles.ts";

/** Compression parameters. Defaults: {@link DEFAULT_COMPRESS_OPTIONS}. */
export interface CompressOptions extends TileOptions, QuantizeOptions {
  /** Error-feedback decay: e = β·e + Δ. */
  beta: number;
  /**
   * Entries kept per tile (clipped to the tile size); `Infinity` keeps everything.
   * 1-D tensors always keep everything (sent dense, still quantized).
   */
  k: number;
  /** Quantize to 2 bits (the wire format); false sends raw float32 values (for checks). */
  quantize: boolean;
}

/** The reference run's defaults: β 0.95, k 64 per 64×64 tile, 2-bit quantization at 6σ. */
export const DEFAULT_COMPRESS_OPTIONS: Readonly<CompressOptions> = Object.freeze({
  ...DEFAULT_TILE_OPTIONS,
  ...DEFAULT_QUANTIZE_OPTIONS,
  beta: 0.95,
  k: 64,
  quantize: true,
});

/** Fields common to quantized and raw compressed tensors. */
export interface CompressedTensorBase {
  /** Shape of the tensor. */
  shape: number[];
  /** Tile height (1 for a 1-D tensor). */
  tileRows: number;
  /** Tile width (chunk length for a 1-D tensor). */
  tileCols: number;
  /** Entries kept per full tile (≤ tileRows·tileCols); a short 1-D last chunk keeps min(k, size). */
  k: number;
  /**
   * Tile-local indices of the kept entries, tile after tile; tile t's run starts at
   * `t · k` and is strictly ascending.
   */
  indices: Uint16Array;
}

/** A tensor as it goes on the wire: 2-bit codes and a 4-entry per-tensor table. */
export interface QuantizedTensor extends CompressedTensorBase {
  /** One code (0..3) per kept entry, in the order of `indices`. */
  codes: Uint8Array;
  /** decode(c) = table[c]; 4 float32. */
  table: Float32Array;
  values?: undefined;
}

/** A tensor compressed without quantization (for the spec's exactness checks). */
export interface RawTensor extends CompressedTensorBase {
  /** One float32 value per kept entry, in the order of `indices`. */
  values: Float32Array;
  codes?: undefined;
  table?: undefined;
}

/** One peer's compressed update of one tensor. */
export type CompressedTensor = QuantizedTensor | RawTensor;

/** The tile geometry a compressed tensor was made with. */
export function geometryOf(t: CompressedTensorBase): TileGeometry {
  return new TileGeometry(t.shape, t.tileRows, t.tileCols);
}

/**
 * One round of compression for one tensor. Updates `error` in place (e = β·e + Δ, then
 * e −= what was sent) and returns what to send. `delta` and `error` are the tensor's entries,
 * row-major (subarrays of flat buffers are fine). Arithmetic on e is float32 per step, as a
 * GPU kernel would do it. Throws `RangeError` on mismatched sizes, bad k, or a non-finite e.
 */
export function compressTensor(
  delta: Float32Array,
  error: Float32Array,
  shape: readonly number[],
  options: Partial<CompressOptions> = {},
): CompressedTensor {
  const opts = { ...DEFAULT_COMPRESS_OPTIONS, ...options };
  const geometry = TileGeometry.forShape(shape, opts);
  const n = geometry.numel;
  if (delta.length !== n || error.length !== n) {
    throw new RangeError(
      `compressTensor: delta ${delta.length} / error ${error.length} for ${n} entries`,
    );
  }
  if (!(opts.k >= 1) || (Number.isFinite(opts.k) && !Number.isInteger(opts.k))) {
    throw new RangeError(`compressTensor: k must be an integer ≥ 1 or Infinity, got ${opts.k}`);
  }
  const k = geometry.oneD ? geometry.fullTileSize : Math.min(opts.k, geometry.fullTileSize);

  const beta = Math.fround(opts.beta);
  let finite = true;
  for (let i = 0; i < n; i++) {
    const e = Math.fround(beta * error[i]) + delta[i];
    error[i] = e;
    if (!Number.isFinite(e)) finite = false;
  }
  if (!finite) throw new RangeError("compressTensor: non-finite error-feedback value");

  const indices = selectTopK(error, geometry, k);
  const flat = flatIndicesOf(geometry, k, indices);
  const selected = new Float32Array(flat.length);
  for (let j = 0; j < flat.length; j++) selected[j] = error[flat[j]];

  const base = { shape: [...shape], tileRows: geometry.tileRows, tileCols: geometry.tileCols, k };
  let result: CompressedTensor;
  let sent: Float32Array;
  if (opts.quantize) {
    const q = quantize2Bit(selected, opts);
    result = { ...base, indices, codes: q.codes, table: q.table };
    sent = dequantize2Bit(q.codes, q.table);
  } else {
    result = { ...base, indices, values: selected };
    sent = selected;
  }
  // Whatever was not sent (including quantization error) stays in e for later rounds.
  for (let j = 0; j < flat.length; j++) error[flat[j]] -= sent[j];
  return result;
}

/**
 * Flat tensor indices of a selection made with budget `k` on `geometry`, in selection order.
 * Throws `RangeError` unless there are exactly `geometry.selectedCount(k)` indices, each tile's
 * strictly ascending and inside the tile (so no entry can be counted twice).
 */
export function flatIndicesOf(
  geometry: TileGeometry,
  k: number,
  indices: Uint16Array,
): Float64Array {
  if (indices.length !== geometry.selectedCount(k)) {
    throw new RangeError(
      `flatIndicesOf: ${indices.length} indices, expected ${geometry.selectedCount(k)}`,
    );
  }
  const out = new Float64Array(indices.length);
  let j = 0;
  for (let t = 0; t < geometry.tileCount; t++) {
    const size = geometry.tileSize(t);
    const end = j + geometry.tileK(t, k);
    let prev = -1;
    for (; j < end; j++) {
      const local = indices[j];
      if (local <= prev || local >= size) {
        throw new RangeError(`flatIndicesOf: tile ${t}: index ${local} out of order or range`);
      }
      prev = local;
      out[j] = geometry.toFlat(t, local);
    }
  }
  return out;
}

/** The values a compressed tensor stands for, in selection order (dequantized when quantized). */
export function selectedValues(t: CompressedTensor): Float32Array {
  return t.codes ? dequantize2Bit(t.codes, t.table) : t.values!;
}

/**
 * Scatters a compressed tensor back to a dense, row-major Float32Array (zeros where nothing
 * was kept). Throws `RangeError` if its parts do not fit together.
 */
export function decompress(t: CompressedTensor): Float32Array {
  const geometry = geometryOf(t);
  const flat = flatIndicesOf(geometry, t.k, t.indices);
  const values = selectedValues(t);
  if (values.length !== flat.length) {
    throw new RangeError(`decompress: ${values.length} values for ${flat.length} indices`);
  }
  const out = new Float32Array(geometry.numel);
  for (let j = 0; j < flat.length; j++) out[flat[j]] = values[j];
  return out;
}
