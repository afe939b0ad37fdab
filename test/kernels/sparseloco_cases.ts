import {
  compressTensorGpuWithStats,
  errorFeedback,
  type GpuQuantStats,
} from "../../src/kernels/sparseloco.ts";
import * as ref from "../../src/reference/sparseloco.ts";
import { compressTensor, flatIndicesOf } from "../../src/optim/sparseloco/compress.ts";
import type { QuantizedTensor } from "../../src/optim/sparseloco/compress.ts";
import { pseudoGradient } from "../../src/optim/sparseloco/pseudo_gradient.ts";
import { quantize2Bit, roundHalfEven } from "../../src/optim/sparseloco/quantize.ts";
import { TileGeometry } from "../../src/optim/sparseloco/tiles.ts";
import { Rng } from "../../src/data/rng.ts";
import { type CheckResult, compare, type KernelCase, upload } from "./check.ts";

// Tolerances. Error feedback and the indices are exact. Shift and scale are float32 sums in a
// fixed order against the reference's float64: a few ulps, so relative 1e-5 (shift, which is
// near 0, is measured against scale). Table entries are float32 means per code: same bound.
// e differs from the reference only where the table does (the selected entries).
const STAT_RTOL = 1e-5;
/** Codes allowed to differ because their value sits within a few ulps of a rounding boundary. */
const MAX_NEAR_BOUNDARY = 2;
/** |x − (c + ½)| below this counts as "at a boundary" (≈ 4 ulps of x ∈ [2, 4)). */
const BOUNDARY_EPS = 1e-6;

const BETA = 0.95;
const SHAPES: number[][] = [[64, 64], [128, 192], [100, 48], [70], [256, 4100]];

/** Codes with the reference's float32 steps for a given shift and scale. */
function codesAt(values: Float32Array, shift: number, scale: number): Uint8Array {
  const out = new Uint8Array(values.length).fill(2);
  if (!(scale > 0)) return out;
  for (let i = 0; i < values.length; i++) {
    const x = Math.fround(Math.fround(Math.fround(values[i] - shift) / scale) + 2);
    out[i] = Math.min(3, Math.max(0, roundHalfEven(x)));
  }
  return out;
}

/**
 * Codes must be identical, except where the GPU's slightly different shift/scale puts a value on
 * the other side of a rounding boundary (counted; expected 0 on random data).
 */
function compareCodes(
  shape: string,
  output: string,
  got: Uint8Array,
  want: Uint8Array,
  values: Float32Array,
  gpu: GpuQuantStats,
): CheckResult {
  const atGpu = codesAt(values, gpu.shift, gpu.scale);
  let near = 0, hard = 0;
  let worst = { index: -1, got: 0, want: 0, err: 0, tol: 0 };
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i]) continue;
    const x = gpu.scale > 0 ? (values[i] - gpu.shift) / gpu.scale + 2 : 2;
    const atBoundary = Math.abs(x - Math.floor(x) - 0.5) < BOUNDARY_EPS;
    if (atGpu[i] === got[i] || atBoundary) near++;
    else hard++;
    worst = { index: i, got: got[i], want: want[i], err: 1, tol: 0 };
  }
  const ok = got.length === want.length && hard === 0 && near <= MAX_NEAR_BOUNDARY;
  return { kernel: "sparseloco", shape, output: `${output} (${near} near a boundary)`, ok, worst };
}

/** Random θ_start, θ_end with ties planted in |e| after error feedback. */
interface Round {
  start: Float32Array;
  end: Float32Array;
}

/** Distinct random tile-local positions of tile t, as flat indices, ascending by local index. */
function pickInTile(rng: Rng, g: TileGeometry, t: number, count: number): number[] {
  const size = g.tileSize(t);
  const locals = new Set<number>();
  while (locals.size < Math.min(count, size)) locals.add(rng.int(size));
  return [...locals].map((l) => g.toFlat(t, l));
}

/** Tiles that get a big tie group: first, middle, last. */
function tieTiles(g: TileGeometry): number[] {
  return [...new Set([0, g.tileCount >> 1, g.tileCount - 1])];
}

/**
 * Round 1: Δ ~ N(0, 2) with 2% of the entries copies (sign flipped at random) of another entry's
 * (start, end, e), and in a few tiles a group of up to 200 entries all equal to ±(Δ = 8, same e),
 * more than k: the top of the tile is one tie, broken by the lower index. Negation is exact, so
 * |β·e + Δ| ties exactly.
 */
function firstRound(rng: Rng, g: TileGeometry, e: Float32Array): { round: Round; groups: number[][] } {
  const n = g.numel;
  const start = rng.normals(n), end = rng.normals(n);
  const copy = (dst: number, src: number, sign: number) => {
    start[dst] = sign * start[src];
    end[dst] = sign * end[src];
    e[dst] = sign * e[src];
  };
  for (let j = 0; j < Math.floor(n / 50); j++) {
    copy(rng.int(n), rng.int(n), rng.int(2) ? 1 : -1);
  }
  const groups = tieTiles(g).map((t) => {
    const members = pickInTile(rng, g, t, Math.min(200, g.tileSize(t) >> 2));
    start[members[0]] = 4;
    end[members[0]] = -4;
    for (const p of members.slice(1)) copy(p, members[0], rng.int(2) ? 1 : -1);
    return members;
  });
  return { round: { start, end }, groups };
}

/**
 * Round 2 on the carried-over e: the group members the first round did not send still share
 * |e|; giving them Δ = ±8 with the sign of their e makes them tie at the top again.
 */
function secondRound(rng: Rng, g: TileGeometry, e: Float32Array, groups: number[][]): Round {
  const n = g.numel;
  const start = rng.normals(n), end = rng.normals(n);
  for (const members of groups) {
    const m = Math.max(...members.map((p) => Math.abs(e[p])));
    for (const p of members) {
      if (Math.abs(e[p]) !== m) continue; // sent last round: its e is the quantization error
      const s = e[p] < 0 ? -1 : 1;
      start[p] = 4 * s;
      end[p] = -4 * s;
    }
  }
  return { start, end };
}

/** Both sides of one round: GPU on its e, reference on its own e; every output compared. */
async function checkRound(
  rt: Parameters<KernelCase["run"]>[0],
  label: string,
  shape: number[],
  eGpu: ReturnType<typeof upload>,
  eRef: Float32Array,
  round: Round,
): Promise<CheckResult[]> {
  const g = TileGeometry.forShape(shape);
  const ts = upload(rt, round.start, "start"), te = upload(rt, round.end, "end");
  const { tensor: got, stats } = await compressTensorGpuWithStats(rt, eGpu, ts, te, shape, {
    beta: BETA,
  });
  const eGot = await rt.read(eGpu);
  rt.dispose(ts);
  rt.dispose(te);

  // The reference: compressTensor, plus its quantizer inputs for shift/scale and the codes check.
  const efRef = eRef.slice();
  ref.errorFeedback(efRef, round.start, round.end, g.numel, BETA);
  const want = compressTensor(pseudoGradient(round.start, round.end), eRef, shape, {
    beta: BETA,
  }) as QuantizedTensor;
  const flat = flatIndicesOf(g, want.k, want.indices);
  const values = new Float32Array(flat.length);
  for (let j = 0; j < flat.length; j++) values[j] = efRef[flat[j]];
  const q = quantize2Bit(values);
  const scale = q.scale || 1;

  const k = "sparseloco";
  return [
    compare(k, label, "k, tileRows, tileCols", [got.k, got.tileRows, got.tileCols], [
      want.k,
      want.tileRows,
      want.tileCols,
    ], 0, 0),
    compare(k, label, "indices", got.indices, want.indices, 0, 0),
    compareCodes(label, "codes", got.codes, want.codes, values, stats),
    compare(k, label, "shift", [stats.shift], [q.shift], STAT_RTOL * scale, STAT_RTOL),
    compare(k, label, "scale", [stats.scale], [q.scale], 0, STAT_RTOL),
    compare(k, label, "table", got.table, want.table, STAT_RTOL * scale, STAT_RTOL),
    compare(k, label, "e after", eGot, eRef, 2 * STAT_RTOL * scale, STAT_RTOL),
  ];
}

/** Two rounds of compression on one tensor: the second starts from the first's e. */
function compressCase(shape: number[], seed: number): KernelCase {
  const label = shape.join("×");
  return {
    kernel: "sparseloco",
    shape: label,
    async run(rt) {
      const rng = new Rng(seed);
      const g = TileGeometry.forShape(shape);
      const e0 = rng.normals(g.numel, 0.5);
      const { round, groups } = firstRound(rng, g, e0);
      const eRef = e0.slice();
      const eGpu = upload(rt, e0, "e");
      const results = await checkRound(rt, `${label} round 1`, shape, eGpu, eRef, round);
      const round2 = secondRound(rng, g, eRef, groups);
      results.push(...await checkRound(rt, `${label} round 2`, shape, eGpu, eRef, round2));
      rt.dispose(eGpu);
      return results;
    },
  };
}

/** errorFeedback alone: bit-identical to the float32 reference (no fma contraction). */
const errorFeedbackCase: KernelCase = {
  kernel: "sparseloco",
  shape: "errorFeedback N=70001",
  async run(rt) {
    const n = 70001, rng = new Rng(91);
    const e = rng.normals(n), start = rng.normals(n), end = rng.normals(n, 1e-3);
    for (let i = 0; i < n; i++) end[i] += start[i]; // Δ small against θ, as after inner steps
    const te = upload(rt, e, "e"), ts = upload(rt, start, "start"), tend = upload(rt, end, "end");
    errorFeedback(rt, te, ts, tend, n, BETA);
    const got = await rt.read(te);
    ref.errorFeedback(e, start, end, n, BETA);
    for (const t of [te, ts, tend]) rt.dispose(t);
    // MIN_VALUE: any difference between two float32 values fails.
    return [compare("sparseloco.error_feedback", `N=${n}`, "e", got, e, Number.MIN_VALUE, 0)];
  },
};

/** sparseloco kernel cases: error feedback, then whole compressions against compressTensor. */
export const sparselocoCases: KernelCase[] = [
  errorFeedbackCase,
  ...SHAPES.map((shape, i) => compressCase(shape, 1000 + i)),
];
