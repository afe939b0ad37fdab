/**
 * SparseLoCo compression of one tensor on the GPU: error feedback, per-tile top-k, 2-bit
 * quantization and the residual update, for a tensor that lives in GPU buffers (a view of the
 * flat parameter buffer). The plain-TypeScript reference is `compressTensor`
 * (src/reference/sparseloco/compress.ts); {@link compressTensorGpu} returns the same
 * `QuantizedTensor`, ready for `encodeUpdate`.
 *
 * What matches the reference exactly, and what within a tolerance:
 * - Error feedback is float32 per step exactly as the reference (β·e is rounded before the add;
 *   the shader blocks fma contraction), so e after it is bit-identical.
 * - Top-k compares the bit patterns of |e| as integers (radix select), ties to the lower index:
 *   the indices are identical to `selectTopK` on the same e.
 * - The quantizer's mean and σ are float32 sums in a fixed order (per-thread chains, chunks of
 *   16, one workgroup over the per-tile / per-workgroup partials) where the reference sums in
 *   float64, so shift and scale differ from the reference's by a few float32 ulps (measured
 *   ≤ 4e-7 relative to scale; the tests allow 1e-5). A code differs only where
 *   (v − shift)/scale + 2 lies within that much of a rounding boundary (x.5): expected for well
 *   under one value in 10⁵ on random data, and none in the tests. Given the
 *   same shift and scale, codes are the reference's float32 formula step by step (WGSL `round`
 *   is half-to-even; `/` is exact on SwiftShader and most GPUs, ≤ 2.5 ulp where it is not).
 * - The table is a float32 mean per code (reference: float64), relative error ≤ ~3e-7 measured;
 *   the residual e −= table[code] carries that error into the selected entries of e only.
 * - Reruns on the same device are bit-identical (no float atomics, fixed summation order).
 * - GPUs may flush float32 subnormals (|x| < 1.2e-38) to zero in arithmetic; keys and the
 *   non-finite check are integer operations on the bits and are not affected.
 * - Sums are float32: more than 2²⁴ selected entries (tensors beyond ~10⁹ parameters at 64 of
 *   4096) would make the per-code counts inexact, so they are refused; Σ(v − mean)² must stay
 *   below ~3e38 (|values| below ~1e17), otherwise the GPU reports the tensor as non-finite.
 */
import { type GpuRuntime, type GpuTensor, grid1d, type Uniform } from "../gpu/runtime.ts";
import { DEFAULT_COMPRESS_OPTIONS } from "../reference/sparseloco/compress.ts";
import type { CompressOptions, QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { QUANT_BINS } from "../reference/sparseloco/quantize.ts";
import { TileGeometry } from "../reference/sparseloco/tiles.ts";

const WG = 256;
/** Values each thread visits at least once in a grid-stride pass: fewer, fuller partials. */
const ITEMS_PER_THREAD = 4;
/** Bound on grid-stride partials: fills a large GPU and keeps the finishing loops short. */
const MAX_PARTIALS = 1024;
/** Most selected entries whose per-code counts stay exact in float32. */
export const MAX_SELECTED_GPU = 1 << 24;

/** Entries of the stats tensor written by {@link quantizeSelected} (float32 each). */
export const STAT = Object.freeze({
  /** Σ of the selected values. */
  sum: 0,
  /** Their mean: the quantizer's shift. */
  shift: 1,
  /** Σ (v − mean)². */
  ss: 2,
  /** Sample standard deviation (divides by M − 1; 0 for one value). */
  sigma: 3,
  /** (rangeSigmas/4)·σ, 0 when not > 0 (then every code is 2). */
  scale: 4,
  /** Non-finite entries of e after error feedback. */
  nonFinite: 5,
  /** 1 when everything is finite (the residual ran), 0 otherwise. */
  ok: 6,
  /** table[c] at table + c, c = 0..3. */
  table: 8,
  /** Values with code c at counts + c. */
  counts: 12,
  /** Length of the stats tensor. */
  length: 16,
});

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
 * Throws `RangeError` on a bad k or too many selected entries for float32 counts.
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
  const selected = geometry.selectedCount(k);
  if (selected >= MAX_SELECTED_GPU) {
    throw new RangeError(`planCompression: ${selected} selected entries (GPU limit 2^24)`);
  }
  return { geometry, k, selected };
}

/** Uniforms of every entry (one Params struct for the whole shader). */
function params(plan: CompressPlan | null, n: number, beta = 0, rangeQuarter = 0): Uniform[] {
  const g = plan?.geometry;
  return [
    { u32: n },
    { u32: plan?.selected ?? 0 },
    { u32: plan?.k ?? 0 },
    { u32: g?.oneD ? 1 : 0 },
    { u32: g?.cols ?? 0 },
    { u32: g?.tileRows ?? 0 },
    { u32: g?.tileCols ?? 0 },
    { u32: g?.gridCols ?? 0 },
    { f32: beta },
    { f32: rangeQuarter },
    { u32: 0 }, // zero: keeps β·e from being fused into an fma
    { u32: 0 },
  ];
}

/** Workgroups of a grid-stride pass over `items`: ≥ ITEMS_PER_THREAD per thread, ≤ MAX_PARTIALS. */
function partialGroups(items: number): number {
  return Math.max(1, Math.min(MAX_PARTIALS, Math.ceil(items / (WG * ITEMS_PER_THREAD))));
}

/** Workgroups for one per tile, split over y when there are more than 65535. */
function tileGrid(tiles: number): [number, number] {
  return grid1d(tiles, 1);
}

function checkLength(what: string, t: GpuTensor, n: number): void {
  if (t.length < n) throw new Error(`sparseloco: ${what} has ${t.length} elements, needs ${n}`);
}

/**
 * Error feedback with the pseudo-gradient fused in: e = β·e + (start − end), float32 per step
 * like `compressTensor` (β·e rounded before the add). start = θ at the round's start, end = θ
 * after the inner steps.  e, start, end: (≥ n)
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
    workgroups: grid1d(n),
  });
}

/**
 * Per-tile top-k of |e|, one workgroup per tile, as `selectTopK`: the k largest magnitudes of
 * each tile, ties to the lower index, NaN lowest; tile t's tile-local indices ascending at
 * `t·plan.k` of `indices`, the values of e there at the same place of `values`, and
 * `tileSums[2t..2t+1]` = [Σ of those values (fixed order), non-finite entries of the tile].
 * e: (N) → indices: (M) u32, values: (M), tileSums: (2T)
 */
export function tileTopK(
  rt: GpuRuntime,
  e: GpuTensor,
  plan: CompressPlan,
  indices: GpuTensor,
  values: GpuTensor,
  tileSums: GpuTensor,
): void {
  const { geometry, selected } = plan;
  checkLength("e", e, geometry.numel);
  checkLength("indices", indices, selected);
  checkLength("values", values, selected);
  checkLength("tileSums", tileSums, 2 * geometry.tileCount);
  rt.dispatch({
    shader: "sparseloco",
    entry: "tile_topk",
    uniforms: params(plan, geometry.tileCount),
    tensors: [e, indices, values, tileSums],
    workgroups: tileGrid(geometry.tileCount),
  });
}

/**
 * 2-bit quantization of the M selected values, as `quantize2Bit` in float32:
 * shift = mean, scale = (rangeSigmas/4)·σ (sample σ), code = clamp(round((v − shift)/scale + 2),
 * 0, 3) half-to-even (scale 0 → 2), table[c] = mean of the values with code c (empty bin: its
 * centre). Every sum is fixed-order, so reruns are bit-identical. Writes `codes` with 4 codes
 * per u32 (value 4q + j in byte j: read back, its bytes are the reference's Uint8Array) and
 * `stats` (see {@link STAT}). Uses pooled scratch, disposed before returning.
 * values: (M), tileSums: (2T) from {@link tileTopK} → codes: (⌈M/4⌉) u32, stats: (16)
 */
export function quantizeSelected(
  rt: GpuRuntime,
  plan: CompressPlan,
  values: GpuTensor,
  tileSums: GpuTensor,
  codes: GpuTensor,
  stats: GpuTensor,
  rangeSigmas: number = DEFAULT_COMPRESS_OPTIONS.rangeSigmas,
): void {
  const m = plan.selected;
  const tiles = plan.geometry.tileCount;
  const quads = Math.ceil(m / 4);
  checkLength("values", values, m);
  checkLength("tileSums", tileSums, 2 * tiles);
  checkLength("codes", codes, quads);
  checkLength("stats", stats, STAT.length);
  const rq = rangeSigmas / QUANT_BINS;
  const gCentered = partialGroups(m);
  const gCodes = partialGroups(quads);
  const scratch = rt.tensor(Math.max(gCentered, 8 * gCodes), "f32", "sparseloco.partials");
  const u = (n: number) => params(plan, n, 0, rq);
  rt.dispatch({
    shader: "sparseloco",
    entry: "mean_finish",
    uniforms: u(tiles),
    tensors: [stats, tileSums],
    workgroups: [1],
  });
  rt.dispatch({
    shader: "sparseloco",
    entry: "centered_partial",
    uniforms: u(m),
    tensors: [scratch, values, stats],
    workgroups: [gCentered],
  });
  rt.dispatch({
    shader: "sparseloco",
    entry: "sigma_finish",
    uniforms: u(gCentered),
    tensors: [stats, scratch],
    workgroups: [1],
  });
  rt.dispatch({
    shader: "sparseloco",
    entry: "quantize_codes",
    uniforms: u(quads),
    tensors: [scratch, values, stats, codes],
    workgroups: [gCodes],
  });
  rt.dispatch({
    shader: "sparseloco",
    entry: "table_finish",
    uniforms: u(gCodes),
    tensors: [stats, scratch],
    workgroups: [1],
  });
  // The queue runs the dispatches above before any later use of the recycled buffer.
  rt.dispose(scratch);
}

/**
 * e[selected] −= table[code]: what was sent leaves e, the quantization error stays for later
 * rounds. Does nothing when stats say something was not finite (e then holds exactly the
 * error-feedback result, as the reference leaves it when it throws).
 * e: (N), indices: (M) u32, codes: (⌈M/4⌉) u32, stats: (16)
 */
export function residualUpdate(
  rt: GpuRuntime,
  e: GpuTensor,
  plan: CompressPlan,
  indices: GpuTensor,
  codes: GpuTensor,
  stats: GpuTensor,
): void {
  const m = plan.selected;
  checkLength("e", e, plan.geometry.numel);
  checkLength("indices", indices, m);
  checkLength("codes", codes, Math.ceil(m / 4));
  checkLength("stats", stats, STAT.length);
  rt.dispatch({
    shader: "sparseloco",
    entry: "residual",
    uniforms: params(plan, m),
    tensors: [e, indices, codes, stats],
    workgroups: grid1d(m),
  });
}

/** The quantizer's statistics as the GPU computed them (float32). */
export interface GpuQuantStats {
  /** Mean of the selected values. */
  shift: number;
  /** (rangeSigmas/4)·σ, 0 when σ is 0. */
  scale: number;
  /** Sample standard deviation. */
  sigma: number;
  /** Values per code. */
  counts: number[];
}

/**
 * Records the whole compression of one tensor (no read-back): error feedback, top-k,
 * quantization, residual. Results stay on the GPU in pooled tensors the caller disposes with
 * {@link disposeCompression}. e, start, end: (≥ N).
 */
export function recordCompression(
  rt: GpuRuntime,
  e: GpuTensor,
  start: GpuTensor,
  end: GpuTensor,
  plan: CompressPlan,
  options: Partial<CompressOptions> = {},
): CompressionBuffers {
  const opts = { ...DEFAULT_COMPRESS_OPTIONS, ...options };
  const m = plan.selected;
  const bufs: CompressionBuffers = {
    indices: rt.tensor(m, "u32", "sparseloco.indices"),
    values: rt.tensor(m, "f32", "sparseloco.values"),
    tileSums: rt.tensor(2 * plan.geometry.tileCount, "f32", "sparseloco.tile_sums"),
    codes: rt.tensor(Math.ceil(m / 4), "u32", "sparseloco.codes"),
    stats: rt.tensor(STAT.length, "f32", "sparseloco.stats"),
  };
  errorFeedback(rt, e, start, end, plan.geometry.numel, opts.beta);
  tileTopK(rt, e, plan, bufs.indices, bufs.values, bufs.tileSums);
  quantizeSelected(rt, plan, bufs.values, bufs.tileSums, bufs.codes, bufs.stats, opts.rangeSigmas);
  residualUpdate(rt, e, plan, bufs.indices, bufs.codes, bufs.stats);
  return bufs;
}

/** The pooled tensors {@link recordCompression} fills. */
export interface CompressionBuffers {
  /** (M) u32 tile-local indices, tile t's at t·k, ascending. */
  indices: GpuTensor;
  /** (M) the selected values of e (before the residual). */
  values: GpuTensor;
  /** (2T) per tile [Σ selected values, non-finite entries]. */
  tileSums: GpuTensor;
  /** (⌈M/4⌉) u32, 4 codes per word, one byte each. */
  codes: GpuTensor;
  /** (16) see {@link STAT}. */
  stats: GpuTensor;
}

/** Returns {@link recordCompression}'s tensors to the pool. */
export function disposeCompression(rt: GpuRuntime, bufs: CompressionBuffers): void {
  for (const t of [bufs.indices, bufs.values, bufs.tileSums, bufs.codes, bufs.stats]) {
    rt.dispose(t);
  }
}

/**
 * {@link compressTensorGpu} plus the GPU's quantizer statistics (for comparisons with the
 * reference's shift and scale).
 */
export async function compressTensorGpuWithStats(
  rt: GpuRuntime,
  e: GpuTensor,
  start: GpuTensor,
  end: GpuTensor,
  shape: readonly number[],
  options: Partial<CompressOptions> = {},
): Promise<{ tensor: QuantizedTensor; stats: GpuQuantStats }> {
  const opts = { ...DEFAULT_COMPRESS_OPTIONS, ...options };
  if (!opts.quantize) throw new RangeError("compressTensorGpu: only quantized compression");
  const plan = planCompression(shape, opts);
  const m = plan.selected;
  const bufs = recordCompression(rt, e, start, end, plan, opts);
  let idx: Uint32Array, packed: Uint32Array, st: Float32Array;
  try {
    // Issued together: all three copies are submitted before the first map completes.
    [idx, packed, st] = await Promise.all([
      rt.readU32(bufs.indices),
      rt.readU32(bufs.codes),
      rt.read(bufs.stats),
    ]);
  } finally {
    disposeCompression(rt, bufs);
  }
  if (st[STAT.ok] !== 1) {
    throw new RangeError(
      st[STAT.nonFinite] > 0
        ? "compressTensorGpu: non-finite error-feedback value"
        : "compressTensorGpu: quantizer statistics overflow float32",
    );
  }
  const { geometry, k } = plan;
  const tensor: QuantizedTensor = {
    shape: [...shape],
    tileRows: geometry.tileRows,
    tileCols: geometry.tileCols,
    k,
    indices: Uint16Array.from(idx), // tile-local, < 65536 (MAX_TILE_SIZE)
    codes: new Uint8Array(packed.buffer, 0, m).slice(),
    table: st.slice(STAT.table, STAT.table + QUANT_BINS),
  };
  const stats: GpuQuantStats = {
    shift: st[STAT.shift],
    scale: st[STAT.scale],
    sigma: st[STAT.sigma],
    counts: Array.from(st.subarray(STAT.counts, STAT.counts + QUANT_BINS)),
  };
  return { tensor, stats };
}

/**
 * One round of SparseLoCo compression of one tensor on the GPU, as `compressTensor` with
 * Δ = start − end: e = β·e + Δ, per-tile top-k, 2-bit quantization, e −= what was sent.
 * `e` is updated in place on the GPU; the result is read back in the reference's layout
 * (Uint16Array tile-local indices, one code per byte, the 4-entry table), so it can go straight
 * to `encodeUpdate`. Indices equal the reference's; codes and table up to float32 statistics
 * (see the module notes). Only `quantize: true` is supported.
 * Throws `RangeError` on a bad k or a non-finite e (e then holds the error-feedback result).
 * e, start, end: (≥ numel of shape), e.g. views of the flat parameter buffers.
 */
export async function compressTensorGpu(
  rt: GpuRuntime,
  e: GpuTensor,
  start: GpuTensor,
  end: GpuTensor,
  shape: readonly number[],
  options: Partial<CompressOptions> = {},
): Promise<QuantizedTensor> {
  return (await compressTensorGpuWithStats(rt, e, start, end, shape, options)).tensor;
}
