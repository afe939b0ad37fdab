/**
 * SparseLoCo compression kernels: the parts of `compressTensor`
 * (src/reference/sparseloco/compress.ts) that a GPU computes bit-identically to the reference —
 * error feedback, per-tile top-k with the gather of the kept values, and the residual update
 * from codes and a table. The quantizer's statistics sit between top-k and the residual; they
 * are float64 sums in the reference, so `GpuCompressor` (src/backend/compressor_gpu.ts) reads
 * the kept values back and runs the reference quantizer on them instead of approximating it in
 * float32. Together they give the reference's payload and error-feedback buffer bit for bit.
 *
 * - Error feedback is float32 per step exactly as the reference (β·e is rounded before the add;
 *   the shader blocks fma contraction).
 * - Top-k compares the bit patterns of |e| as integers (radix select), ties to the lower index:
 *   the indices are identical to `selectTopK` on the same e, and the values are copies of e.
 * - The residual is one correctly rounded float32 subtraction per kept entry, as the
 *   reference's store of e − table[code] into a Float32Array.
 * - GPUs may flush float32 subnormals (|x| < 1.2e-38) to zero in arithmetic; e entries that
 *   small would differ from the reference's. Keys and the non-finite count are integer
 *   operations on the bits and are not affected.
 */
import { type GpuRuntime, type GpuTensor, grid1d, type Uniform } from "../gpu/runtime.ts";
import { DEFAULT_COMPRESS_OPTIONS } from "../reference/sparseloco/compress.ts";
import type { CompressOptions } from "../reference/sparseloco/compress.ts";
import { QUANT_BINS } from "../reference/sparseloco/quantize.ts";
import { TileGeometry } from "../reference/sparseloco/tiles.ts";

/** Codes packed per u32 word by {@link packCodes} (2 bits each). */
export const CODES_PER_WORD = 16;

/**
 * What the launcher and shaders/sparseloco.wgsl share: threads per workgroup of the
 * elementwise entries (error_feedback, residual; an override), and tile_topk's threads per tile
 * and scan chunk length (TK = TK_CH², a const header: they size workgroup arrays).
 */
const CONSTANTS = { WG: 256 };
/** The const header every entry of the module is compiled with (one WGSL module). */
const HEADER = { TK: 64, TK_CH: 8 };

/** The sizes of one tensor's compression, from its shape and the run's options. */
export interface CompressPlan {
  /** The tiling (as `compressTensor` makes it). */
  geometry: TileGeometry;
  /** Entries kept per full tile (1-D: the chunk length; else min(k, tile size)). */
  k: number;
  /** M: selected entries in all (`geometry.selectedCount(k)`). */
  selected: number;
}

/**
 * The tiling, k and selected count `compressTensor` uses for `shape` with `options`.
 * Throws `RangeError` on a bad k.
 */
export function planCompression(
  shape: readonly number[],
  options: Partial<CompressOptions> = {},
): CompressPlan {
  const opts = { ...DEFAULT_COMPRESS_OPTIONS, ...options };
  const geometry = TileGeometry.forShape(shape, opts);
  if (!(opts.k >= 1) || (Number.isFinite(opts.k) && !Number.isInteger(opts.k))) {
    throw new RangeError(`planCompression: k must be an integer ≥ 1 or Infinity, got ${opts.k}`);
  }
  const k = geometry.oneD ? geometry.fullTileSize : Math.min(opts.k, geometry.fullTileSize);
  return { geometry, k, selected: geometry.selectedCount(k) };
}

/** Uniforms of every entry (one Params struct for the whole shader). */
function params(plan: CompressPlan | null, n: number, beta = 0, tableAt = 0): Uniform[] {
  const g = plan?.geometry;
  return [
    { u32: n },
    { u32: plan?.k ?? 0 },
    { u32: g?.oneD ? 1 : 0 },
    { u32: g?.cols ?? 0 },
    { u32: g?.tileRows ?? 0 },
    { u32: g?.tileCols ?? 0 },
    { u32: g?.gridCols ?? 0 },
    { f32: beta },
    { u32: 0 }, // zero: keeps β·e from being fused into an fma
    { u32: tableAt },
    { u32: 0 },
  ];
}

function checkLength(what: string, t: GpuTensor, n: number): void {
  if (t.length < n) throw new Error(`sparseloco: ${what} has ${t.length} elements, needs ${n}`);
}

/**
 * Error feedback with the pseudo-gradient fused in: e = β·e + (start − end), float32 per step
 * like `compressTensor` (β·e rounded before the add). start = θ at the round's start, end = θ
 * after the inner steps. Reference: `errorFeedback` (src/reference/sparseloco/error_feedback.ts).
 * e, start, end: (≥ n)
 */
export function errorFeedback(
  rt: GpuRuntime,
  e: GpuTensor,
  start: GpuTensor,
  end: GpuTensor,
  n: number,
  beta: number,
): void {
  for (const [w, t] of [["e", e], ["start", start], ["end", end]] as const) checkLength(w, t, n);
  rt.dispatch({
    shader: "sparseloco",
    entry: "error_feedback",
    uniforms: params(null, n, beta),
    tensors: [e, start, end],
    constants: CONSTANTS,
    header: HEADER,
    workgroups: grid1d(n, CONSTANTS.WG),
  });
}

/**
 * Per-tile top-k of |e|, one workgroup per tile, as `selectTopK`: the k largest magnitudes of
 * each tile, ties to the lower index, NaN lowest; tile t's tile-local indices ascending at
 * `t·plan.k` of `indices`, the values of e there at the same place of `values` (the gather),
 * and `tileBad[t]` = non-finite entries of tile t (u32; the reference refuses such a tensor).
 * e: (N) → indices: (M) u32, values: (M) f32, tileBad: (T) u32
 */
export function tileTopK(
  rt: GpuRuntime,
  e: GpuTensor,
  plan: CompressPlan,
  indices: GpuTensor,
  values: GpuTensor,
  tileBad: GpuTensor,
): void {
  const { geometry, selected } = plan;
  checkLength("e", e, geometry.numel);
  checkLength("indices", indices, selected);
  checkLength("values", values, selected);
  checkLength("tileBad", tileBad, geometry.tileCount);
  rt.dispatch({
    shader: "sparseloco",
    entry: "tile_topk",
    uniforms: params(plan, geometry.tileCount),
    tensors: [e, indices, values, tileBad],
    header: HEADER,
    workgroups: grid1d(geometry.tileCount, 1),
  });
}

/**
 * Packs one code (0..3) per byte into u32 words, {@link CODES_PER_WORD} per word: code j in
 * bits 2(j mod 16)..2(j mod 16)+1 of word ⌊j/16⌋. Writes into `out` (from element 0) if given.
 */
export function packCodes(
  codes: Uint8Array,
  out = new Uint32Array(Math.ceil(codes.length / CODES_PER_WORD)),
): Uint32Array {
  const words = Math.ceil(codes.length / CODES_PER_WORD);
  if (out.length < words) throw new RangeError(`packCodes: ${out.length} words for ${words}`);
  out.fill(0, 0, words);
  for (let j = 0; j < codes.length; j++) out[j >>> 4] |= (codes[j] & 3) << (2 * (j & 15));
  return out;
}

/**
 * e[flat(indices[j])] −= table[tableAt + code j] for the M selected entries: what was sent
 * leaves e, the quantization error stays for later rounds. `codes` are packed by
 * {@link packCodes}; `table` holds the reference quantizer's 4 decode values at `tableAt`.
 * Reference: `residualFromCodes` (src/reference/sparseloco/error_feedback.ts).
 * e: (N), indices: (M) u32, codes: (⌈M/16⌉) u32, table: (≥ tableAt + 4)
 */
export function residualUpdate(
  rt: GpuRuntime,
  e: GpuTensor,
  plan: CompressPlan,
  indices: GpuTensor,
  codes: GpuTensor,
  table: GpuTensor,
  tableAt = 0,
): void {
  const m = plan.selected;
  checkLength("e", e, plan.geometry.numel);
  checkLength("indices", indices, m);
  checkLength("codes", codes, Math.ceil(m / CODES_PER_WORD));
  checkLength("table", table, tableAt + QUANT_BINS);
  rt.dispatch({
    shader: "sparseloco",
    entry: "residual",
    uniforms: params(plan, m, 0, tableAt),
    tensors: [e, indices, codes, table],
    constants: CONSTANTS,
    header: HEADER,
    workgroups: grid1d(m, CONSTANTS.WG),
  });
}
