/**
 * A seeded fuzzer for {@link decodeUpdate}: mutations of valid messages and random byte
 * strings. Each input must either decode to an update whose canonical encoding is the input
 * itself, or throw `CodecError`; anything else is a failure. Shared by the test suite and
 * `fuzz_main.ts`.
 *
 * @module
 */

import { hex } from "../util/hex.ts";
import { mixSeed, Rng } from "../util/rng.ts";
import { numelOf } from "../util/shape.ts";
import { compressTensor } from "../reference/sparseloco/compress.ts";
import { CodecError } from "./errors.ts";
import { decodeUpdate, encodeUpdate, UPDATE_HEADER_BYTES } from "./update_codec.ts";
import type { DecodeLimits, IndexMode, Update } from "./update_codec.ts";

/** A valid message, where its fields are, and what a receiver would expect of it. */
export interface FuzzSeed {
  /** The encoded message. */
  bytes: Uint8Array;
  /** Offsets and widths (bytes) of its integer fields: counts, lengths, geometry, ids. */
  fields: { offset: number; width: 1 | 2 | 4 }[];
  /** Limits matching the message exactly. */
  limits: DecodeLimits;
}

/** Counts from a fuzzing run. */
export interface FuzzStats {
  /** Inputs tried. */
  inputs: number;
  /** Inputs that decoded (and re-encoded to themselves). */
  accepted: number;
  /** Inputs rejected with a `CodecError`. */
  rejected: number;
  /** Slowest single decode, in milliseconds. */
  slowestMs: number;
  /** Rejections by the first words of the error message. */
  reasons: Record<string, number>;
  /** Inputs that did anything else. */
  failed: number;
  /** The first 20 of those, with what happened. */
  failures: { input: number; what: string; hex: string }[];
}

/** Shapes of the seed messages: matrices, odd tiles, 1-D with a short chunk, rank 3. */
const SEED_SHAPES: number[][][] = [
  [[64, 64], [70], [1, 64]],
  [[100, 48], [3, 5, 8], [130]],
  [[128, 64]],
  [],
];

/** Builds the valid messages mutations start from (both index modes). */
export function fuzzSeeds(seed = 1): FuzzSeed[] {
  const rng = new Rng(mixSeed(seed, 0x5eed));
  const seeds: FuzzSeed[] = [];
  for (const shapes of SEED_SHAPES) {
    for (const mode of [0, 1] as IndexMode[]) {
      const k = 1 + rng.int(40);
      const tensors = shapes.map((shape, id) => {
        const n = numelOf(shape);
        const delta = rng.normals(n, 0.01);
        return { id, ...compressTensor(delta, new Float32Array(n), shape, { k }) };
      });
      const update: Update = {
        indexMode: mode,
        runId: Uint8Array.from({ length: 32 }, () => rng.int(256)),
        window: rng.u32(),
        modelHash: Uint8Array.from({ length: 32 }, () => rng.int(256)),
        tensors: tensors as Update["tensors"],
      };
      const bytes = encodeUpdate(update);
      seeds.push({
        bytes,
        fields: fieldsOf(bytes, update),
        limits: {
          expected: {
            runId: update.runId,
            window: update.window,
            modelHash: update.modelHash,
            tensorShapes: shapes,
            tiles: {},
            k,
            indexMode: mode,
          },
        },
      });
    }
  }
  return seeds;
}

/** Where the integer fields of a valid message are (mirrors the layout in update_codec.ts). */
function fieldsOf(bytes: Uint8Array, update: Update): FuzzSeed["fields"] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: FuzzSeed["fields"] = [
    { offset: 4, width: 1 },
    { offset: 5, width: 1 },
    { offset: 6, width: 2 },
    { offset: 40, width: 4 },
    { offset: 76, width: 2 },
  ];
  let p = UPDATE_HEADER_BYTES;
  for (const t of update.tensors) {
    fields.push({ offset: p, width: 2 }, { offset: p + 2, width: 1 });
    p += 3;
    for (let i = 0; i < t.shape.length; i++, p += 4) fields.push({ offset: p, width: 4 });
    fields.push({ offset: p, width: 4 }, { offset: p + 4, width: 4 }, { offset: p + 8, width: 4 });
    p += 12 + 16;
    fields.push({ offset: p, width: 1 }, { offset: p + 1, width: 4 });
    const indexBytes = view.getUint32(p + 1, true);
    p += 5 + indexBytes + Math.ceil(t.codes.length / 4);
  }
  if (p !== bytes.length) throw new Error(`fuzz: field walk ended at ${p} of ${bytes.length}`);
  return fields;
}

/** Values that tend to break length checks. */
const EDGE_VALUES = [
  0,
  1,
  2,
  3,
  4,
  7,
  8,
  63,
  64,
  65,
  255,
  256,
  4095,
  4096,
  65535,
  65536,
  0x7fffffff,
  0x80000000,
  0xfffffffe,
  0xffffffff,
];

function mutate(rng: Rng, seed: FuzzSeed): Uint8Array {
  let b = seed.bytes.slice();
  const rounds = 1 + (rng.uniform() < 0.2 ? rng.int(3) : 0);
  for (let r = 0; r < rounds; r++) {
    const kind = rng.int(7);
    if (kind === 0) { // bit flips
      for (let i = 1 + rng.int(8); i > 0 && b.length > 0; i--) {
        b[rng.int(b.length)] ^= 1 << rng.int(8);
      }
    } else if (kind === 1) { // truncation
      b = b.slice(0, rng.int(b.length + 1));
    } else if (kind === 2) { // extension
      const extra = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
      const out = new Uint8Array(b.length + extra.length);
      out.set(b);
      out.set(extra, b.length);
      b = out;
    } else if (kind === 3) { // byte overwrites
      for (let i = 1 + rng.int(4); i > 0 && b.length > 0; i--) b[rng.int(b.length)] = rng.int(256);
    } else if (kind === 4 || kind === 5) { // length / count / geometry field edits
      const f = seed.fields[rng.int(seed.fields.length)];
      if (f.offset + f.width > b.length) continue;
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const old = f.width === 1
        ? view.getUint8(f.offset)
        : f.width === 2
        ? view.getUint16(f.offset, true)
        : view.getUint32(f.offset, true);
      const pick = rng.int(3);
      const v = pick === 0
        ? EDGE_VALUES[rng.int(EDGE_VALUES.length)]
        : pick === 1
        ? old + (rng.int(2) ? 1 : -1) * (1 + rng.int(4))
        : rng.u32();
      const max = f.width === 4 ? 0xffffffff : f.width === 2 ? 0xffff : 0xff;
      const w = ((v % (max + 1)) + (max + 1)) % (max + 1);
      if (f.width === 1) view.setUint8(f.offset, w);
      else if (f.width === 2) view.setUint16(f.offset, w, true);
      else view.setUint32(f.offset, w, true);
    } else { // splice: delete or duplicate a span
      if (b.length < 2) continue;
      const at = rng.int(b.length);
      const len = 1 + rng.int(Math.min(32, b.length - at));
      if (rng.int(2) === 0) {
        const out = new Uint8Array(b.length - len);
        out.set(b.subarray(0, at));
        out.set(b.subarray(at + len), at);
        b = out;
      } else {
        const out = new Uint8Array(b.length + len);
        out.set(b.subarray(0, at + len));
        out.set(b.subarray(at), at + len);
        b = out;
      }
    }
  }
  return b;
}

function randomInput(rng: Rng, seeds: FuzzSeed[]): Uint8Array {
  const b = Uint8Array.from({ length: rng.int(300) }, () => rng.int(256));
  if (rng.int(2) === 0 && b.length >= 6) b.set(seeds[0].bytes.subarray(0, 6)); // plausible header
  return b;
}

/** Hex of the first 64 bytes of `b`, enough to recognise a failing input in a report. */
function hexPreview(b: Uint8Array): string {
  return hex(b.subarray(0, 64)) + (b.length > 64 ? `…(${b.length} bytes)` : "");
}

/** Runs `inputs` fuzz inputs from `seed`; deterministic for a given seed. */
export function fuzzDecoder(
  options: { seed: number; inputs: number; seeds?: FuzzSeed[] },
): FuzzStats {
  const seeds = options.seeds ?? fuzzSeeds();
  const rng = new Rng(mixSeed(options.seed, 0xf022));
  const stats: FuzzStats = {
    inputs: 0,
    accepted: 0,
    rejected: 0,
    failed: 0,
    slowestMs: 0,
    reasons: {},
    failures: [],
  };
  for (let i = 0; i < options.inputs; i++) {
    const seed = seeds[rng.int(seeds.length)];
    const input = rng.uniform() < 0.1 ? randomInput(rng, seeds) : mutate(rng, seed);
    const limits: DecodeLimits = rng.int(2) === 0
      ? seed.limits
      : { maxBytes: rng.int(4) === 0 ? rng.int(seed.bytes.length + 16) : undefined };
    stats.inputs++;
    const t0 = performance.now();
    let what = "";
    try {
      const update = decodeUpdate(input, limits);
      const again = encodeUpdate(update);
      if (again.length !== input.length || again.some((x, j) => x !== input[j])) {
        what = "decoded, but re-encodes to other bytes";
      } else {
        stats.accepted++;
      }
    } catch (e) {
      if (e instanceof CodecError) {
        stats.rejected++;
        const reason = e.message.replace(/\([^)]*\)$/, "").replace(/\[[^\]]*\]/g, "[…]")
          .replace(/[0-9]+/g, "N").trim();
        stats.reasons[reason] = (stats.reasons[reason] ?? 0) + 1;
      } else {
        what = `threw ${(e as Error)?.name}: ${(e as Error)?.message}`;
      }
    }
    stats.slowestMs = Math.max(stats.slowestMs, performance.now() - t0);
    if (what) {
      stats.failed++;
      if (stats.failures.length < 20) {
        stats.failures.push({ input: i, what, hex: hexPreview(input) });
      }
    }
  }
  return stats;
}
