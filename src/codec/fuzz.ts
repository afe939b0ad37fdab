/**
 * A seeded fuzzer for every decoder that faces the network or the disk. A decoder is one
 * {@linkcode FuzzTarget} (valid seed inputs, the decode, the error classes it may throw); the
 * registry of them is `src/testing/fuzz_targets.ts`. Each input is a mutation of a seed (bit
 * flips, truncation, extension, overwrites, edits of length and count fields, spliced spans,
 * and for JSON inputs edits of the parsed tree) or random bytes, and must either decode or be
 * refused with the decoder's own error class and a one-line message; anything else, or an
 * input that takes longer than the hang bound, is a failure. Shared by the test suite and
 * `fuzz_main.ts`.
 *
 * @module
 */

import { hex } from "../util/hex.ts";
import { mixSeed, Rng } from "../util/rng.ts";

/** An integer field of a seed: where it is and how wide (bytes, little-endian unless `be`). */
export interface FuzzField {
  /** Byte offset. */
  offset: number;
  /** Width in bytes. */
  width: 1 | 2 | 4;
  /** Big-endian (network order). */
  be?: boolean;
}

/** A valid input mutations start from. */
export interface FuzzSeed {
  /** The encoded input. */
  bytes: Uint8Array;
  /** Offsets and widths of its integer fields: counts, lengths, geometry, ids. */
  fields?: FuzzField[];
  /** The bytes are JSON text: half of the mutations edit the parsed tree. */
  json?: boolean;
  /** Whatever the target's decode needs besides the bytes (limits, expectations). */
  context?: unknown;
}

/** What a decode did with an input it did not refuse. */
export type FuzzOutcome = "accepted" | { rejected: string };

/** One decoder under fuzz. */
export interface FuzzTarget {
  /** Name on the command line (`--target NAME`). */
  name: string;
  /** What is decoded, for the report. */
  about: string;
  /** The valid inputs (built once per run). */
  seeds(): Promise<FuzzSeed[]>;
  /**
   * Decodes `input`: returns "accepted", or `{ rejected }` for a decoder that reports refusals
   * as a value; throws to refuse. Throwing anything not in `errors` (or returning a result
   * that fails a target's own check, e.g. a re-encoding that differs) is a failure.
   */
  decode(input: Uint8Array, seed: FuzzSeed): FuzzOutcome | Promise<FuzzOutcome>;
  /** The error classes a refusal may throw. */
  errors: readonly (abstract new (...args: never[]) => Error)[];
  /** Longest random input (default 300 bytes). */
  maxRandomBytes?: number;
}

/** Counts from a fuzzing run of one target. */
export interface FuzzStats {
  /** The target. */
  target: string;
  /** Inputs tried. */
  inputs: number;
  /** Inputs that decoded. */
  accepted: number;
  /** Inputs refused with a clear error. */
  rejected: number;
  /** Inputs that did anything else (crash, unclear error, hang). */
  failed: number;
  /** Slowest single input, in milliseconds. */
  slowestMs: number;
  /** Wall time of the run, in milliseconds. */
  elapsedMs: number;
  /** Longest refusal message, in characters. */
  longestMessage: number;
  /** Refusals by their message with numbers and bracketed parts blanked. */
  reasons: Record<string, number>;
  /** The first 20 failures, with what happened. */
  failures: { input: number; what: string; hex: string }[];
}

/** An input slower than this is a hang (a failure), whatever it returned. */
export const HANG_MS = 2_000;

/** Values that tend to break length checks. */
const EDGE_VALUES = [
  0,
  1,
  2,
  3,
  4,
  7,
  8,
  31,
  32,
  33,
  63,
  64,
  65,
  127,
  128,
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

/** Edits that make one byte mutation of `b`. */
function mutateBytes(rng: Rng, bytes: Uint8Array, fields: readonly FuzzField[]): Uint8Array {
  let b = bytes.slice();
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
      const f = fields.length > 0
        ? fields[rng.int(fields.length)]
        : { offset: rng.int(Math.max(1, b.length)), width: ([1, 2, 4] as const)[rng.int(3)] };
      if (f.offset + f.width > b.length) continue;
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const le = !("be" in f && f.be);
      const old = f.width === 1
        ? view.getUint8(f.offset)
        : f.width === 2
        ? view.getUint16(f.offset, le)
        : view.getUint32(f.offset, le);
      const pick = rng.int(3);
      const v = pick === 0
        ? EDGE_VALUES[rng.int(EDGE_VALUES.length)]
        : pick === 1
        ? old + (rng.int(2) ? 1 : -1) * (1 + rng.int(4))
        : rng.u32();
      const max = f.width === 4 ? 0xffffffff : f.width === 2 ? 0xffff : 0xff;
      const w = ((v % (max + 1)) + (max + 1)) % (max + 1);
      if (f.width === 1) view.setUint8(f.offset, w);
      else if (f.width === 2) view.setUint16(f.offset, w, le);
      else view.setUint32(f.offset, w, le);
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

/** JSON values that tend to break validation: wrong types, limits, huge and deep values. */
function edgeJson(rng: Rng, old: unknown): unknown {
  switch (rng.int(16)) {
    case 0:
      return null;
    case 1:
      return rng.int(2) === 0;
    case 2:
      return EDGE_VALUES[rng.int(EDGE_VALUES.length)] * (rng.int(2) ? 1 : -1);
    case 3:
      return [0.5, -1, 1e308, -1e-308, 2 ** 53, 2 ** 53 + 2, -0, 1e21][rng.int(8)];
    case 4:
      return "";
    case 5:
      return "x".repeat(1 + rng.int(5000));
    case 6:
      return [];
    case 7:
      return {};
    case 8: { // deep nesting
      let v: unknown = 1;
      for (let i = rng.int(3000); i > 0; i--) v = rng.int(2) ? [v] : { a: v };
      return v;
    }
    case 9:
      return typeof old === "number" ? old + (rng.int(2) ? 1 : -1) : old;
    case 10:
      return typeof old === "number" ? String(old) : typeof old === "string" ? Number(old) : 0;
    case 11: // a string edited by one character
      if (typeof old !== "string" || old.length === 0) return "\u0000";
      return old.slice(0, rng.int(old.length)) + String.fromCharCode(rng.int(0x3000)) +
        old.slice(rng.int(old.length));
    case 12:
      return typeof old === "string" ? old.toUpperCase() : [old];
    case 13:
      return typeof old === "number" ? old * 2 ** (rng.int(80) - 40) : { old };
    case 14:
      // Containers only twice: repeated edits would grow them exponentially.
      return typeof old === "object"
        ? [old, old]
        : Array.from({ length: rng.int(2000) }, () => old);
    default:
      return typeof old === "string" ? old + old : -1;
  }
}

/** One edit of the parsed tree of `text` (falls back to a byte mutation if it is not JSON). */
function mutateJson(rng: Rng, bytes: Uint8Array): Uint8Array {
  let root: unknown;
  try {
    root = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return mutateBytes(rng, bytes, []);
  }
  const containers: (Record<string, unknown> | unknown[])[] = [];
  const walk = (v: unknown) => {
    if (typeof v !== "object" || v === null) return;
    containers.push(v as Record<string, unknown>);
    for (const x of Object.values(v)) walk(x);
  };
  walk(root);
  for (let r = 1 + (rng.uniform() < 0.3 ? rng.int(3) : 0); r > 0; r--) {
    if (containers.length === 0) {
      root = edgeJson(rng, root);
      break;
    }
    const c = containers[rng.int(containers.length)];
    const keys = Object.keys(c);
    const op = rng.int(6);
    if (op === 0 && keys.length > 0) { // delete a field
      const k = keys[rng.int(keys.length)];
      if (Array.isArray(c)) c.splice(Number(k), 1);
      else delete c[k];
    } else if (op === 1 && !Array.isArray(c)) { // an unknown or a prototype-ish field
      const k = ["__proto__", "constructor", "toString", "extra", ""][rng.int(5)];
      Object.defineProperty(c, k, {
        value: edgeJson(rng, 0),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else if (op === 2 && keys.length > 1) { // a value moved to another field
      const a = keys[rng.int(keys.length)];
      const b = keys[rng.int(keys.length)];
      (c as Record<string, unknown>)[a] = (c as Record<string, unknown>)[b];
    } else if (keys.length > 0) { // a value replaced
      const k = keys[rng.int(keys.length)];
      const m = c as Record<string, unknown>;
      m[k] = edgeJson(rng, m[k]);
    }
  }
  const text = rng.int(4) === 0 ? JSON.stringify(root, null, 2) : JSON.stringify(root);
  // An edited tree past 1 MB says nothing a smaller one does not: a byte mutation instead.
  if (text === undefined || text.length > 1 << 20) return mutateBytes(rng, bytes, []);
  return new TextEncoder().encode(text);
}

/** Random bytes, or (for JSON) random JSON-looking text; half start like a seed. */
function randomInput(rng: Rng, seed: FuzzSeed, maxBytes: number): Uint8Array {
  if (seed.json && rng.int(2) === 0) {
    const tokens = ['{"', '":', ",", "}", "[", "]", '"', "1", "-", "e9", "null", "true", "\\u0000"];
    let s = "";
    for (let i = rng.int(200); i > 0; i--) s += tokens[rng.int(tokens.length)];
    if (rng.int(10) === 0) s = "[".repeat(rng.int(200_000)); // deep nesting
    return new TextEncoder().encode(s);
  }
  const b = Uint8Array.from({ length: rng.int(maxBytes) }, () => rng.int(256));
  const head = Math.min(b.length, 1 + rng.int(16));
  if (rng.int(2) === 0) b.set(seed.bytes.subarray(0, head)); // a plausible header
  return b;
}

/** Hex of the first 64 bytes of `b`, enough to recognise a failing input in a report. */
function hexPreview(b: Uint8Array): string {
  return hex(b.subarray(0, 64)) + (b.length > 64 ? `…(${b.length} bytes)` : "");
}

/** The message of a refusal with the input-specific parts blanked, to count by kind. */
function reasonOf(message: string): string {
  return message.replace(/\([^)]*\)$/, "").replace(/\[[^\]]*\]/g, "[…]").replace(/"[^"]*"/g, '"…"')
    .replace(/[0-9a-f]{16,}/g, "H").replace(/[0-9]+/g, "N").slice(0, 120).trim();
}

/** Why `message` is not a clear one-line refusal, or "" when it is. */
function unclear(message: unknown): string {
  if (typeof message !== "string" || message.trim() === "") return "an empty message";
  if (message.includes("\n")) return "a message of several lines";
  return "";
}

/** Settles `p`, or rejects after `ms` (a hang). */
async function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HangError()), ms);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

class HangError extends Error {}

/** Zero counts for `target`: a batch's or a whole run's before it adds up. */
export function emptyStats(target: string): FuzzStats {
  return {
    target,
    inputs: 0,
    accepted: 0,
    rejected: 0,
    failed: 0,
    slowestMs: 0,
    elapsedMs: 0,
    longestMessage: 0,
    reasons: {},
    failures: [],
  };
}

/**
 * Runs `inputs` fuzz inputs of `target` from `seed`; deterministic for a given seed and
 * seed set (pass `seeds` to build them once for several runs). `hangMs` is the per-input
 * bound (default {@linkcode HANG_MS}).
 */
export async function fuzzTarget(
  target: FuzzTarget,
  options: { seed: number; inputs: number; seeds?: FuzzSeed[]; hangMs?: number },
): Promise<FuzzStats> {
  const hangMs = options.hangMs ?? HANG_MS;
  const seeds = options.seeds ?? await target.seeds();
  const rng = new Rng(mixSeed(options.seed, 0xf022));
  const maxRandom = target.maxRandomBytes ?? 300;
  const stats = emptyStats(target.name);
  const t00 = performance.now();
  for (let i = 0; i < options.inputs; i++) {
    const seed = seeds[rng.int(seeds.length)];
    const input = rng.uniform() < 0.1
      ? randomInput(rng, seed, maxRandom)
      : seed.json && rng.int(2) === 0
      ? mutateJson(rng, seed.bytes)
      : mutateBytes(rng, seed.bytes, seed.fields ?? []);
    stats.inputs++;
    const t0 = performance.now();
    let what = "";
    let refusal: string | undefined;
    try {
      const r = target.decode(input, seed);
      const outcome = r instanceof Promise ? await bounded(r, hangMs) : r;
      if (outcome === "accepted") stats.accepted++;
      else refusal = outcome.rejected;
    } catch (e) {
      if (e instanceof HangError) what = `hung (no answer within ${hangMs} ms)`;
      else if (target.errors.some((c) => e instanceof c)) refusal = (e as Error).message;
      else what = `threw ${(e as Error)?.name}: ${(e as Error)?.message}`;
    }
    const ms = performance.now() - t0;
    stats.slowestMs = Math.max(stats.slowestMs, ms);
    if (refusal !== undefined) {
      const bad = unclear(refusal);
      if (bad) what = `refused with ${bad}: ${JSON.stringify(String(refusal).slice(0, 200))}`;
      else {
        stats.rejected++;
        stats.longestMessage = Math.max(stats.longestMessage, refusal.length);
        const reason = reasonOf(refusal);
        stats.reasons[reason] = (stats.reasons[reason] ?? 0) + 1;
      }
    }
    if (!what && ms > hangMs) what = `took ${ms.toFixed(0)} ms (over ${hangMs} ms: a hang)`;
    if (what) {
      stats.failed++;
      if (stats.failures.length < 20) {
        stats.failures.push({ input: i, what, hex: hexPreview(input) });
      }
    }
  }
  stats.elapsedMs = performance.now() - t00;
  return stats;
}
