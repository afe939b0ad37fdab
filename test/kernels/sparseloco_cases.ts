import {
  CODES_PER_WORD,
  errorFeedback,
  packCodes,
  planCompression,
  residualUpdate,
  tileTopK,
} from "../../src/kernels/sparseloco.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import * as ref from "../../src/reference/sparseloco/error_feedback.ts";
import { compressTensor, flatIndicesOf } from "../../src/reference/sparseloco/compress.ts";
import type { CompressOptions } from "../../src/reference/sparseloco/compress.ts";
import { pseudoGradient } from "../../src/reference/sparseloco/pseudo_gradient.ts";
import { selectTopK } from "../../src/reference/sparseloco/select_top_k.ts";
import { TileGeometry } from "../../src/reference/sparseloco/tiles.ts";
import { Rng } from "../../src/util/rng.ts";
import { type CheckResult, compare, type KernelCase, upload } from "./check.ts";

// Every output of these kernels is bit-exact against its reference: float32 values are compared
// by their bit patterns (NaN included), so any difference fails and a match reports err 0.

const BETA = 0.95;
/** Shapes (run tiling unless options say otherwise) and per-case compression options. */
const CASES: [number[], Partial<CompressOptions>][] = [
  [[64, 64], {}],
  [[128, 192], {}],
  [[100, 48], {}], // 50×48 tiles
  [[70], {}], // chunks of 64 and 6, all kept
  [[256, 4100], {}], // 64×41 tiles
  [[96, 80], { maxSide: 16, k: 3 }], // small k in 16×16 tiles
];

/** The bit patterns of float32 values, for exact comparisons. */
function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** θ at the start and the end of a round. */
interface Round {
  start: Float32Array;
  end: Float32Array;
}

/** Distinct random positions of tile t (flat indices, in random order). */
function pickInTile(rng: Rng, g: TileGeometry, t: number, count: number): number[] {
  const size = g.tileSize(t);
  const locals = new Set<number>();
  while (locals.size < Math.min(count, size)) locals.add(rng.int(size));
  return [...locals].map((l) => g.toFlat(t, l));
}

/**
 * Round 1: θ uniform on [−2, 2] (|Δ| < 4, |e| < 1), with 2% of the entries copies (sign flipped at random) of another entry's
 * (start, end, e), and tie groups of entries all equal to ±(one start, end, e): negation is
 * exact, so |β·e + Δ| ties exactly. In the first and last tile one group of up to 200 at Δ = 8,
 * more than k, so the top of the tile is one tie broken by the lower index; in the middle tile
 * 40 at Δ = 8 above 60 at Δ = 6, so the threshold falls inside the second group.
 */
function firstRound(
  rng: Rng,
  g: TileGeometry,
  e: Float32Array,
): { round: Round; groups: number[][] } {
  const n = g.numel;
  const start = rng.uniforms(n, -2, 2), end = rng.uniforms(n, -2, 2);
  const copy = (dst: number, src: number, sign: number) => {
    start[dst] = sign * start[src];
    end[dst] = sign * end[src];
    e[dst] = sign * e[src];
  };
  for (let j = 0; j < Math.floor(n / 50); j++) copy(rng.int(n), rng.int(n), rng.int(2) ? 1 : -1);
  const plant = (members: number[], delta: number) => {
    start[members[0]] = delta / 2;
    end[members[0]] = -delta / 2;
    for (const p of members.slice(1)) copy(p, members[0], rng.int(2) ? 1 : -1);
  };
  const groups: number[][] = [];
  const tiles = [...new Set([0, g.tileCount >> 1, g.tileCount - 1])];
  tiles.forEach((t, i) => {
    const size = g.tileSize(t);
    if (i === 1 && tiles.length === 3) {
      const members = pickInTile(rng, g, t, Math.min(100, size >> 1));
      const split = Math.floor(members.length * 0.4);
      groups.push(members.slice(0, split), members.slice(split));
      plant(groups[groups.length - 2], 8);
      plant(groups[groups.length - 1], 6);
    } else {
      const members = pickInTile(rng, g, t, Math.min(200, size >> 2));
      plant(members, 8);
      groups.push(members);
    }
  });
  return { round: { start, end }, groups };
}

/**
 * Round 2 on the carried-over e: the members of a group with the largest |e| still share it
 * (those not sent last round, or all sent with the same code); giving them Δ = ±8 with the sign
 * of their e makes them tie near the top again.
 */
function secondRound(rng: Rng, g: TileGeometry, e: Float32Array, groups: number[][]): Round {
  const n = g.numel;
  const start = rng.uniforms(n, -2, 2), end = rng.uniforms(n, -2, 2);
  for (const members of groups) {
    const m = Math.max(...members.map((p) => Math.abs(e[p])));
    for (const p of members) {
      if (Math.abs(e[p]) !== m) continue;
      const s = e[p] < 0 ? -1 : 1;
      start[p] = 4 * s;
      end[p] = -4 * s;
    }
  }
  return { start, end };
}

/** The entries of `a` at `flat`. */
function gather(a: Float32Array, flat: Float64Array): Float32Array {
  return Float32Array.from(flat, (i) => a[i]);
}

/**
 * Error feedback and tile top-k of one round on the GPU against the reference's error feedback,
 * `selectTopK` and the gather of the kept values; `e` is updated to the reference's e after a
 * whole `compressTensor` (so the next round starts where a peer's would).
 */
async function checkTopK(
  rt: GpuRuntime,
  label: string,
  shape: number[],
  options: Partial<CompressOptions>,
  e: Float32Array,
  round: Round,
): Promise<CheckResult[]> {
  const opts = { ...options, beta: BETA };
  const plan = planCompression(shape, opts);
  const { geometry: g, k, selected: m } = plan;
  const te = upload(rt, e, "e"), ts = upload(rt, round.start, "start");
  const tend = upload(rt, round.end, "end");
  const idx = rt.tensor(m, "u32", "idx"), vals = rt.tensor(m, "f32", "vals");
  const bad = rt.tensor(g.tileCount, "u32", "bad");
  errorFeedback(rt, te, ts, tend, g.numel, BETA);
  tileTopK(rt, te, plan, idx, vals, bad);
  const [gotE, gotIdx, gotVals, gotBad] = await Promise.all([
    rt.read(te),
    rt.readU32(idx),
    rt.read(vals),
    rt.readU32(bad),
  ]);
  for (const t of [te, ts, tend, idx, vals, bad]) rt.dispose(t);

  const efRef = e.slice();
  ref.errorFeedback(efRef, round.start, round.end, g.numel, BETA);
  const want = selectTopK(efRef, g, k);
  const wantVals = gather(efRef, flatIndicesOf(g, k, want));
  compressTensor(pseudoGradient(round.start, round.end), e, shape, opts);
  const kn = "sparseloco.tile_topk";
  return [
    compare("sparseloco.error_feedback", label, "e", bits(gotE), bits(efRef), 0, 0),
    compare(kn, label, "indices", gotIdx, want, 0, 0),
    compare(kn, label, "values", bits(gotVals), bits(wantVals), 0, 0),
    compare(kn, label, "non-finite per tile", gotBad, new Uint32Array(g.tileCount), 0, 0),
  ];
}

/** Two rounds of error feedback + top-k on one tensor, with planted ties. */
function topKCase(shape: number[], options: Partial<CompressOptions>, seed: number): KernelCase {
  const extra = Object.entries(options).map(([k, v]) => ` ${k}=${v}`).join("");
  const label = shape.join("×") + extra;
  return {
    kernel: "sparseloco.tile_topk",
    shape: label,
    async run(rt) {
      const rng = new Rng(seed);
      const g = TileGeometry.forShape(shape, options);
      const e = rng.uniforms(g.numel, -1, 1);
      const { round, groups } = firstRound(rng, g, e);
      const results = await checkTopK(rt, `${label} round 1`, shape, options, e, round);
      const round2 = secondRound(rng, g, e, groups);
      results.push(...await checkTopK(rt, `${label} round 2`, shape, options, e, round2));
      return results;
    },
  };
}

/** Non-finite entries (NaN, ±∞) are counted per tile, as the reference refuses them. */
const nonFiniteCase: KernelCase = {
  kernel: "sparseloco.tile_topk",
  shape: "non-finite 128×128",
  async run(rt) {
    const shape = [128, 128], rng = new Rng(92);
    const plan = planCompression(shape);
    const g = plan.geometry;
    const e = rng.normals(g.numel);
    e[5] = NaN;
    e[70] = Infinity;
    e[64 * 128 + 3] = -Infinity; // tile 2
    const want = new Uint32Array(g.tileCount);
    for (let t = 0; t < g.tileCount; t++) {
      for (let l = 0; l < g.tileSize(t); l++) if (!Number.isFinite(e[g.toFlat(t, l)])) want[t]++;
    }
    const te = upload(rt, e, "e"), idx = rt.tensor(plan.selected, "u32", "idx");
    const vals = rt.tensor(plan.selected, "f32", "vals"),
      bad = rt.tensor(g.tileCount, "u32", "bad");
    tileTopK(rt, te, plan, idx, vals, bad);
    const got = await rt.readU32(bad);
    for (const t of [te, idx, vals, bad]) rt.dispose(t);
    return [
      compare("sparseloco.tile_topk", "non-finite 128×128", "count per tile", got, want, 0, 0),
    ];
  },
};

/**
 * The residual from packed codes and a table against `residualFromCodes`: random e, the
 * reference's selection on it, random codes, a table at an offset (as the compressor binds all
 * tensors' tables at once).
 */
function residualCase(
  shape: number[],
  options: Partial<CompressOptions>,
  seed: number,
): KernelCase {
  const label = shape.join("×");
  return {
    kernel: "sparseloco.residual",
    shape: label,
    async run(rt) {
      const rng = new Rng(seed);
      const plan = planCompression(shape, options);
      const { geometry: g, k, selected: m } = plan;
      const e = rng.normals(g.numel);
      const indices = selectTopK(e, g, k);
      const codes = Uint8Array.from({ length: m }, () => rng.int(4));
      const tables = rng.normals(12, 0.5);
      const packed = packCodes(codes);
      const te = upload(rt, e, "e"), ti = upload(rt, Uint32Array.from(indices), "idx");
      const tc = upload(rt, packed, "codes"), tt = upload(rt, tables, "tables");
      residualUpdate(rt, te, plan, ti, tc, tt, 4);
      const got = await rt.read(te);
      for (const t of [te, ti, tc, tt]) rt.dispose(t);
      ref.residualFromCodes(e, g, k, indices, codes, tables.subarray(4, 8));
      const unpacked = Uint8Array.from(
        codes,
        (_, j) => (packed[Math.floor(j / CODES_PER_WORD)] >>> (2 * (j % CODES_PER_WORD))) & 3,
      );
      return [
        compare("sparseloco.residual", label, "packed codes", unpacked, codes, 0, 0),
        compare("sparseloco.residual", label, "e", bits(got), bits(e), 0, 0),
      ];
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
    return [compare("sparseloco.error_feedback", `N=${n}`, "e", bits(got), bits(e), 0, 0)];
  },
};

/** sparseloco kernel cases: error feedback, top-k with the gather, the residual from codes. */
export const sparselocoCases: KernelCase[] = [
  errorFeedbackCase,
  ...CASES.map(([shape, options], i) => topKCase(shape, options, 1000 + i)),
  nonFiniteCase,
  residualCase([128, 192], {}, 2000),
  residualCase([70], {}, 2001),
  residualCase([96, 80], { maxSide: 16, k: 3 }, 2002),
];
