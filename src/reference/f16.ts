import type { Floats } from "./types.ts";

/** The largest finite f16; the cast saturates to it (shaders/cast_f16.wgsl does the same). */
export const F16_MAX = 65504;

/**
 * x rounded to the nearest f16 (ties to even), saturating at ±F16_MAX: the reference of the
 * GPU cast (shaders/cast_f16.wgsl). The rounding is the runtime's own `Math.f16round` (ES2025,
 * in Deno 2 and Chromium ≥ 135), not a hand-written conversion.
 */
export function roundF16(x: number): number {
  return Math.f16round(Math.min(F16_MAX, Math.max(-F16_MAX, x)));
}

/**
 * `values` rounded to f16 and packed two a u32 word (element 2w in the low half of word w, an
 * odd length's last high half 0): the storage format of shaders/matmul_f16.wgsl, which is the
 * bytes of a little-endian Float16Array.
 */
export function packF16(values: Floats): Uint32Array {
  const halves = new Float16Array(values.length + (values.length & 1));
  for (let i = 0; i < values.length; i++) halves[i] = roundF16(values[i]);
  return new Uint32Array(halves.buffer);
}

/** The first `n` f16 values of packed words, as f32. */
export function unpackF16(words: Uint32Array, n: number): Float32Array {
  if (n > 2 * words.length) throw new Error(`unpackF16: ${n} values from ${words.length} words`);
  return Float32Array.from(new Float16Array(words.buffer, words.byteOffset, n));
}
