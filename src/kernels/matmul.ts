import { type GpuRuntime, type GpuTensor, grid1d, type Uniform } from "../gpu/runtime.ts";
import type { MatmulShape } from "../reference/matmul.ts";

/** The product's shape and transposes, named (defined with the reference). */
export type { MatmulShape };

/**
 * Output tile edge and K step of the tiled kernel (shaders/matmul_tiled.wgsl overrides TILE, BK;
 * its thread mapping needs BK = TILE/4). Split-K chunks are multiples of BK. BK = 16 halves the
 * barriers per K against 8, and SwiftShader pays dearly for each barrier.
 */
const TILED = { TILE: 64, BK: 16 };
const { TILE, BK } = TILED;
/** Threads per workgroup of the split-K sum (override WG). */
const REDUCE_WG = 256;
/** Threads along each edge of the naive kernel's workgroup (override NAIVE_WG). */
const NAIVE_WG = 16;
/** Split K only when the output has fewer tiles than this: below it a big GPU sits idle. */
const SPLIT_BELOW_TILES = 128;
/** Aim for about this many workgroups in total when splitting. */
const SPLIT_TARGET_GROUPS = 256;
/** Never give a split less K than this: each chunk must amortise its partial's write and read. */
const MIN_K_PER_SPLIT = 512;

/**
 * Throws a one-line error unless the shape is positive integers and each tensor holds its
 * operand: `perWordA` / `perWordB` elements a stored word for A and B (1 for f32, 2 for packed
 * f16 pairs).
 */
export function checkMatmulArgs(
  name: string,
  out: GpuTensor,
  a: GpuTensor,
  b: GpuTensor,
  { M, N, K }: MatmulShape,
  perWordA = 1,
  perWordB = perWordA,
): void {
  for (const [what, v] of [["M", M], ["N", N], ["K", K]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`${name}: ${what} must be a positive integer, got ${v}`);
    }
  }
  const need: [GpuTensor, number, string][] = [
    [out, M * N, "out"],
    [a, Math.ceil(M * K / perWordA), "a"],
    [b, Math.ceil(K * N / perWordB), "b"],
  ];
  for (const [t, n, what] of need) {
    if (t.length < n) {
      throw new Error(`${name}: ${what} (${t.label}) has ${t.length} elements, needs ${n}`);
    }
  }
}

/**
 * How many K chunks `matmul` splits an M×N×K product into (1 = no split). A function of the shape
 * only, so a given shape always sums in the same order on every run.
 */
export function matmulSplits(M: number, N: number, K: number): number {
  const tiles = Math.ceil(M / TILE) * Math.ceil(N / TILE);
  if (tiles >= SPLIT_BELOW_TILES) return 1;
  const want = Math.min(Math.ceil(SPLIT_TARGET_GROUPS / tiles), Math.floor(K / MIN_K_PER_SPLIT));
  if (want < 2) return 1;
  return Math.ceil(K / splitChunk(K, want));
}

/** K per split for `splits` chunks, rounded up to the kernel's K step. */
function splitChunk(K: number, splits: number): number {
  return Math.ceil(K / splits / BK) * BK;
}

/** The shader's Params struct: m, n, k, accumulate, k_chunk, splits. */
function params(
  M: number,
  N: number,
  K: number,
  accumulate: boolean,
  kChunk: number,
  splits: number,
): Uniform[] {
  return [M, N, K, accumulate ? 1 : 0, kChunk, splits].map((u32) => ({ u32 }));
}

/** Transposes are pipeline constants: each combination is its own specialised pipeline. */
function transposes({ transA = false, transB = false }: MatmulShape): Record<string, number> {
  return { TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0 };
}

/**
 * out(M,N) = op(A)·op(B) (or += when accumulate), row-major, laid out as `MatmulShape` says.
 *
 * Tiled (TILE×TILE outputs per workgroup, 4×4 per thread). When the output has few tiles and K is long
 * (weight gradients), K is split across workgroups into a pooled (S,M,N) temporary and summed
 * in a fixed order by a second pass, so results stay deterministic. `out` must not share a
 * buffer with `a` or `b`.
 */
export function matmul(
  rt: GpuRuntime,
  out: GpuTensor,
  a: GpuTensor,
  b: GpuTensor,
  shape: MatmulShape,
): void {
  checkMatmulArgs("matmul", out, a, b, shape);
  for (const [t, what] of [[a, "a"], [b, "b"]] as const) {
    if (t.dtype !== "f32") {
      throw new Error(
        `matmul: ${what} (${t.label}) is ${t.dtype}, not f32 (packed f16 operands: matmulF16Inputs)`,
      );
    }
  }
  tiledMatmul(rt, "matmul", out, a, b, shape);
}

/**
 * The tiled product and its split-K sum on `shader`'s `tiled` entry point: every operand format
 * (f32 "matmul", packed f16 "matmul_f16" / "matmul_f16_native") shares the tiling, the split
 * and the f32 partials summed by matmul's `reduce_splits`, so one shape sums in one order.
 * `constants`: the format's own overrides (matmul_f16's A_F16, B_F16). Arguments are checked by
 * the caller.
 */
export function tiledMatmul(
  rt: GpuRuntime,
  shader: string,
  out: GpuTensor,
  a: GpuTensor,
  b: GpuTensor,
  shape: MatmulShape,
  constants: Record<string, number> = {},
): void {
  const { M, N, K, accumulate = false } = shape;
  const splits = matmulSplits(M, N, K);
  const grid: [number, number, number] = [Math.ceil(N / TILE), Math.ceil(M / TILE), splits];
  // Split-K writes (S,M,N) partials into a pooled temporary; otherwise straight into `out`.
  const split = splits > 1;
  const target = split ? rt.tensor(splits * M * N, "f32", "matmul.partials") : out;
  rt.dispatch({
    shader,
    entry: "tiled",
    constants: { ...TILED, ...transposes(shape), ...constants },
    uniforms: params(M, N, K, accumulate && !split, split ? splitChunk(K, splits) : K, splits),
    tensors: [target, a, b],
    workgroups: grid,
  });
  if (!split) return;
  rt.dispatch({
    shader: "matmul",
    entry: "reduce_splits",
    constants: { WG: REDUCE_WG },
    uniforms: params(M, N, K, accumulate, 0, splits),
    tensors: [out, target],
    workgroups: grid1d(M * N, REDUCE_WG),
  });
  // Safe to recycle now: the queue runs the two passes before any later user of the buffer.
  rt.dispose(target);
}

/**
 * The same product with one thread per output element and no tiling: the baseline the benchmark
 * compares against.
 */
export function matmulNaive(
  rt: GpuRuntime,
  out: GpuTensor,
  a: GpuTensor,
  b: GpuTensor,
  shape: MatmulShape,
): void {
  checkMatmulArgs("matmulNaive", out, a, b, shape);
  const { M, N, K, accumulate = false } = shape;
  rt.dispatch({
    shader: "matmul",
    entry: "naive",
    constants: { NAIVE_WG, ...transposes(shape) },
    uniforms: params(M, N, K, accumulate, K, 1),
    tensors: [out, a, b],
    workgroups: [Math.ceil(N / NAIVE_WG), Math.ceil(M / NAIVE_WG)],
  });
}
