/**
 * The CPU backend's matmul on WebAssembly SIMD (src/backend/wasm_matmul.wat): the same
 * signature as the reference `matmul` and, by construction, the same bits (every output is one
 * float64 sum over k in order, rounded once, as in src/reference/matmul.ts), 6–10× faster per
 * CPU-second (README "Benchmarks"). Peers on it and on the reference hold the same model hashes.
 *
 * The driver packs op(A) and op(B) into float64 panels in the module's memory (transposes
 * become the packing order, and zero rows/columns pad M and N to the 4×4 tile), runs the kernel
 * over K in blocks of {@linkcode K_BLOCK} steps (partial sums stay float64 in memory, so the
 * blocks do not change the order), and writes the results back as the reference does.
 *
 * @module
 */

import type { MatmulShape } from "../reference/matmul.ts";
import type { Floats } from "../reference/types.ts";
import { WASM_MATMUL_BYTES } from "./wasm_matmul_bytes.ts";

/** Steps of K per kernel call: a 4-row panel of A (8 KiB) stays in the L1 cache. */
export const K_BLOCK = 256;

/** The 4×4 tile of the kernel. */
const TILE = 4;
const PAGE = 65536;

type Kernel = (
  a: number,
  b: number,
  c: number,
  mp: number,
  np: number,
  kl: number,
  stride: number,
  first: number,
) => void;

/** Whether this runtime runs WebAssembly SIMD (Deno, Chromium, Firefox and Safari do). */
export function wasmSimdAvailable(): boolean {
  return typeof WebAssembly === "object" && WebAssembly.validate(WASM_MATMUL_BYTES);
}

/**
 * Packs the (rows, K) operand x[x0 + r·rs + k·ks] into float64 panels of 4 rows at `f[at…]`: row r,
 * step k at at + (r/4)·4K + 4k + r%4; rows `rows` … `padded` − 1 are zeros. The loops run along
 * whichever index is contiguous in x, so a transposed operand is read in order too.
 */
function pack(
  f: Float64Array,
  at: number,
  x: Floats,
  x0: number,
  rows: number,
  padded: number,
  K: number,
  rs: number,
  ks: number,
): void {
  const slot = (r: number) => at + (r >> 2) * K * TILE + (r & 3);
  if (rs === 1 && ks !== 1) {
    for (let k = 0; k < K; k++) {
      for (let r = 0; r < rows; r++) f[slot(r) + k * TILE] = x[x0 + r + k * ks];
    }
  } else {
    for (let r = 0; r < rows; r++) {
      const base = slot(r);
      for (let k = 0; k < K; k++) f[base + k * TILE] = x[x0 + r * rs + k * ks];
    }
  }
  for (let r = rows; r < padded; r++) {
    const base = slot(r);
    for (let k = 0; k < K; k++) f[base + k * TILE] = 0;
  }
}

/** Rounds up to the tile. */
const tiled = (n: number) => Math.ceil(n / TILE) * TILE;

/**
 * One instance of the kernel with its memory, which grows to the largest product seen, up to
 * `scratchBytes` (default 64 MiB): a larger product is computed in blocks of rows and columns
 * of C (each output's sum is the same in any block, so the bits are too).
 */
export class WasmMatmul {
  private readonly kernel: Kernel;
  private readonly memory: WebAssembly.Memory;
  private f64: Float64Array;
  private readonly scratch: number;

  constructor({ scratchBytes = 64 << 20 }: { scratchBytes?: number } = {}) {
    // Synchronous on purpose: the module is < 1 KiB, and `cpuOps()` is synchronous.
    const instance = new WebAssembly.Instance(new WebAssembly.Module(WASM_MATMUL_BYTES));
    this.kernel = instance.exports.mm as Kernel;
    this.memory = instance.exports.memory as WebAssembly.Memory;
    this.f64 = new Float64Array(this.memory.buffer);
    this.scratch = scratchBytes / 8;
  }

  /** out(M,N) = op(A)·op(B) (or += when accumulate), exactly as the reference `matmul`. */
  matmul(
    out: Floats,
    a: Floats,
    b: Floats,
    { M, N, K, transA = false, transB = false, accumulate = false }: MatmulShape,
  ): void {
    // Block sizes (multiples of the tile): halve the larger until the panels and C fit.
    let mc = tiled(M), nc = tiled(N);
    while ((mc + nc) * K + mc * nc > this.scratch && (mc > TILE || nc > TILE)) {
      if (mc >= nc) mc = tiled(mc / 2);
      else nc = tiled(nc / 2);
    }
    // Float64 offsets: B panels, A panels, C.
    const B = 0, A = nc * K, C = A + mc * K;
    const f = this.reserve(C + mc * nc);
    // op(A)[i,k] = a[i·ai + k·ak] goes to panel i/4, slot 4k + i%4; op(B)[k,j] = b[k·bk + j·bj]
    // to panel j/4, slot 4k + j%4. Rows and columns past M and N are zero.
    const [ai, ak] = transA ? [1, M] : [K, 1];
    const [bk, bj] = transB ? [1, K] : [N, 1];
    const stride = K * TILE * 8;
    for (let n0 = 0; n0 < N; n0 += nc) {
      const nl = Math.min(nc, N - n0), np = tiled(nl);
      pack(f, B, b, n0 * bj, nl, np, K, bj, bk);
      for (let m0 = 0; m0 < M; m0 += mc) {
        const ml = Math.min(mc, M - m0), mp = tiled(ml);
        pack(f, A, a, m0 * ai, ml, mp, K, ai, ak);
        if (K === 0) this.kernel(A * 8, B * 8, C * 8, mp, np, 0, stride, 1);
        for (let k0 = 0; k0 < K; k0 += K_BLOCK) {
          const kl = Math.min(K_BLOCK, K - k0);
          const first = k0 === 0 ? 1 : 0;
          this.kernel((A + k0 * TILE) * 8, (B + k0 * TILE) * 8, C * 8, mp, np, kl, stride, first);
        }
        // The reference's last step: out = s, or out + s, rounded once into out's precision
        // (a typed-array copy converts as an element assignment does).
        for (let i = 0; i < ml; i++) {
          const row = C + i * np, at = (m0 + i) * N + n0;
          if (!accumulate) {
            out.set(f.subarray(row, row + nl), at);
            continue;
          }
          for (let j = 0; j < nl; j++) out[at + j] += f[row + j];
        }
      }
    }
  }

  /** The memory as float64, grown to hold at least `length` of them. */
  private reserve(length: number): Float64Array {
    const bytes = length * 8;
    if (bytes > this.memory.buffer.byteLength) {
      this.memory.grow(Math.ceil((bytes - this.memory.buffer.byteLength) / PAGE));
      this.f64 = new Float64Array(this.memory.buffer);
    }
    return this.f64;
  }
}
