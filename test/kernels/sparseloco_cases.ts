import {
  compressTensorGpu,
  compressTensorGpuWithStats,
  errorFeedback,
  type GpuQuantStats,
} from "../../src/kernels/sparseloco.ts";
import type { GpuRuntime, GpuTensor } from "../../src/gpu/runtime.ts";
import * as ref from "../../src/reference/sparseloco/error_feedback.ts";
import { compressTensor, flatIndicesOf } from "../../src/reference/sparseloco/compress.ts";
import type { CompressOptions, QuantizedTensor } from "../../src/reference/sparseloco/compress.ts";
import { pseudoGradient } from "../../src/optim/sparseloco/pseudo_gradient.ts";
import { quantize2Bit, roundHalfEven } from "../../src/reference/sparseloco/quantize.ts";
import { TileGeometry } from "../../src/reference/sparseloco/tiles.ts";
import { Rng } from "../../src/util/rng.ts";
import { decodeUpdate, encodeUpdate } from "../../src/codec/update_codec.ts";
import { type CheckResult, compare, type KernelCase, upload } from "./check.ts";

// Tolerances. Error feedback, the indices and e where nothing was sent are bit-exact. Shift and
// scale are float32 sums in a fixed order against the reference's float64: a few ulps, checked
// at relative 1e-5 (shift, near 0, against scale). Table entries are float32 means per code:
// same bound; e where something was sent differs from the reference by the table's difference.
const STAT_RTOL = 1e-5;
/** Codes allowed to differ because their value sits within a few ulps of a rounding boundary. */
const MAX_NEAR_BOUNDARY = 2;
/** |x − (c + ½)| below this counts as "at a boundary" (≈ 4 ulps of x ∈ [2, 4)). */
const BOUNDARY_EPS = 1e-6;
/** Any difference between two float32 values fails; an exact match reports err 0. */
const EXACT = Number.MIN_VALUE;

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
  return {
    kernel: "sparseloco",
    shape,
    output: `codes (${near} near a rounding boundary)`,
    ok,
    worst,
  };
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

/** `a` with the entries where `sent` is set replaced by 0. */
function maskOut(a: Float32Array, sent: Uint8Array): Float32Array {
  return a.map((v, i) => sent[i] ? 0 : v);
}

/** The entries of `a` at `flat`. */
function gather(a: Float32Array, flat: Float64Array): Float32Array {
  return Float32Array.from(flat, (i) => a[i]);
}

/** Both sides of one round: GPU on its e, reference on its own e; every output compared. */
async function checkRound(
  rt: GpuRuntime,
  label: string,
  shape: number[],
  options: Partial<CompressOptions>,
  eGpu: GpuTensor,
  eRef: Float32Array,
  round: Round,
  sent: Uint8Array,
): Promise<CheckResult[]> {
  const opts = { ...options, beta: BETA };
  const g = TileGeometry.forShape(shape, opts);
  const ts = upload(rt, round.start, "start"), te = upload(rt, round.end, "end");
  const { tensor: got, stats } = await compressTensorGpuWithStats(rt, eGpu, ts, te, shape, opts);
  const eGot = await rt.read(eGpu);
  rt.dispose(ts);
  rt.dispose(te);

  // The reference: compressTensor, plus its quantizer's inputs for shift/scale and the codes.
  const efRef = eRef.slice();
  ref.errorFeedback(efRef, round.start, round.end, g.numel, BETA);
  const delta = pseudoGradient(round.start, round.end);
  const want = compressTensor(delta, eRef, shape, opts) as QuantizedTensor;
  const flat = flatIndicesOf(g, want.k, want.indices);
  const values = gather(efRef, flat);
  for (const i of flat) sent[i] = 1;
  const q = quantize2Bit(values, opts);
  const scale = q.scale || 1;

  // The result goes to the wire as it is: encode, decode, same tensor.
  const hash = new Uint8Array(32);
  const wire = decodeUpdate(
    encodeUpdate({ runId: hash, window: 1, modelHash: hash, tensors: [{ ...got, id: 0 }] }),
  ).tensors[0];

  const k = "sparseloco";
  const layout = (t: QuantizedTensor) => [t.k, t.tileRows, t.tileCols, ...t.shape];
  return [
    compare(k, label, "k, tile, shape", layout(got), layout(want), 0, 0),
    compare(k, label, "indices", got.indices, want.indices, 0, 0),
    compare(k, label, "after the codec: indices", wire.indices, got.indices, 0, 0),
    compare(k, label, "after the codec: codes", wire.codes, got.codes, 0, 0),
    compare(k, label, "after the codec: table", wire.table, got.table, EXACT, 0),
    compareCodes(label, got.codes, want.codes, values, stats),
    compare(k, label, "shift", [stats.shift], [q.shift], STAT_RTOL * scale, STAT_RTOL),
    compare(k, label, "scale", [stats.scale], [q.scale], 0, STAT_RTOL),
    compare(k, label, "table", got.table, want.table, STAT_RTOL * scale, STAT_RTOL),
    // Entries never sent only went through error feedback: bit-identical. Sent entries carry
    // the table's difference (into later rounds too).
    compare(k, label, "e never sent", maskOut(eGot, sent), maskOut(eRef, sent), EXACT, 0),
    compare(
      k,
      label,
      "e sent",
      gather(eGot, flat),
      gather(eRef, flat),
      STAT_RTOL * scale,
      STAT_RTOL,
    ),
  ];
}

/** Two rounds of compression on one tensor: the second starts from the first's e. */
function compressCase(
  shape: number[],
  options: Partial<CompressOptions>,
  seed: number,
): KernelCase {
  const extra = Object.entries(options).map(([k, v]) => ` ${k}=${v}`).join("");
  const label = shape.join("×") + extra;
  return {
    kernel: "sparseloco",
    shape: label,
    async run(rt) {
      const rng = new Rng(seed);
      const g = TileGeometry.forShape(shape, options);
      const e0 = rng.uniforms(g.numel, -1, 1);
      const { round, groups } = firstRound(rng, g, e0);
      const eRef = e0.slice();
      const eGpu = upload(rt, e0, "e");
      const sent = new Uint8Array(g.numel);
      const results = await checkRound(
        rt,
        `${label} round 1`,
        shape,
        options,
        eGpu,
        eRef,
        round,
        sent,
      );
      const round2 = secondRound(rng, g, eRef, groups);
      results.push(
        ...await checkRound(rt, `${label} round 2`, shape, options, eGpu, eRef, round2, sent),
      );
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
    return [compare("sparseloco.error_feedback", `N=${n}`, "e", got, e, EXACT, 0)];
  },
};

/**
 * A non-finite e (NaN or ∞ after error feedback) is refused like compressTensor refuses it, and
 * e is left holding the error-feedback result (the residual must not run).
 */
const nonFiniteCase: KernelCase = {
  kernel: "sparseloco",
  shape: "non-finite 64×64",
  async run(rt) {
    const results: CheckResult[] = [];
    for (const bad of [NaN, Infinity]) {
      const n = 4096, rng = new Rng(92);
      const e = rng.normals(n), start = rng.normals(n), end = rng.normals(n);
      start[1234] = bad;
      const te = upload(rt, e, "e"), ts = upload(rt, start, "start"), tend = upload(rt, end, "end");
      let threw = false;
      try {
        await compressTensorGpu(rt, te, ts, tend, [64, 64], { beta: BETA });
      } catch (err) {
        threw = err instanceof RangeError;
      }
      const got = await rt.read(te);
      ref.errorFeedback(e, start, end, n, BETA);
      for (const t of [te, ts, tend]) rt.dispose(t);
      const shape = `64×64 with ${bad}`;
      // NaN equals NaN here: compare the bit patterns.
      const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
      results.push(
        compare("sparseloco", shape, "throws RangeError", [threw ? 1 : 0], [1], 0, 0),
        compare("sparseloco", shape, "e = error feedback only", bits(got), bits(e), 0, 0),
      );
    }
    return results;
  },
};

/** Two runs on the same inputs give bit-identical tables and e (fixed-order sums, no float atomics). */
const rerunCase: KernelCase = {
  kernel: "sparseloco",
  shape: "rerun 128×192",
  async run(rt) {
    const shape = [128, 192], n = 128 * 192, rng = new Rng(93);
    const e = rng.uniforms(n, -1, 1), start = rng.uniforms(n, -2, 2), end = rng.uniforms(n, -2, 2);
    const runs: { table: Float32Array; e: Float32Array; codes: Uint8Array }[] = [];
    for (let r = 0; r < 2; r++) {
      const te = upload(rt, e, "e"), ts = upload(rt, start, "start"), tend = upload(rt, end, "end");
      const q = await compressTensorGpu(rt, te, ts, tend, shape, { beta: BETA });
      runs.push({ table: q.table, e: await rt.read(te), codes: q.codes });
      for (const t of [te, ts, tend]) rt.dispose(t);
    }
    const [a, b] = runs;
    return [
      compare("sparseloco", "rerun 128×192", "table bits", a.table, b.table, EXACT, 0),
      compare("sparseloco", "rerun 128×192", "e bits", a.e, b.e, EXACT, 0),
      compare("sparseloco", "rerun 128×192", "codes", a.codes, b.codes, 0, 0),
    ];
  },
};

/** sparseloco kernel cases: error feedback, then whole compressions against compressTensor. */
export const sparselocoCases: KernelCase[] = [
  errorFeedbackCase,
  ...CASES.map(([shape, options], i) => compressCase(shape, options, 1000 + i)),
  rerunCase,
  nonFiniteCase,
];
