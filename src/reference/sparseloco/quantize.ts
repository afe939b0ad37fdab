/**
 * SparseLoCo's per-tensor 2-bit quantization of the selected values.
 *
 * ```
 * shift = mean of the selected values
 * scale = rangeSigmas·σ / 4            (6σ/4 = 1.5σ by default)
 * code  = clamp(round((v − shift) / scale + 2), 0, 3)
 * table[c] = mean of the values whose code is c; an empty bin takes its centre shift + (c−2)·scale
 * ```
 *
 * Choices the spec leaves open, fixed here:
 * - σ is the sample standard deviation (divides by n − 1), as in the reference implementation;
 *   σ = 0 for a single value.
 * - `round` is round-half-to-even, as in WGSL's `round()` and `torch.round`, and the code is
 *   computed with float32 steps (`v − shift`, `/ scale`, `+ 2`) so a GPU kernel can match it.
 * - When scale is 0 (all selected values equal) every code is 2 and the whole table is `shift`
 *   (the mean), which then decodes every value exactly when they are all the same float.
 * - Statistics and table means accumulate in float64 in index order (deterministic in any JS
 *   engine) and are rounded to float32 once.
 *
 * @module
 */

/** Quantization parameters. Defaults: {@link DEFAULT_QUANTIZE_OPTIONS}. */
export interface QuantizeOptions {
  /** Width of the 4 bins together, in standard deviations: scale = rangeSigmas·σ/4. */
  rangeSigmas: number;
}

/** The reference run's quantization: 6σ over 4 bins (scale 1.5σ). */
export const DEFAULT_QUANTIZE_OPTIONS: Readonly<QuantizeOptions> = Object.freeze({
  rangeSigmas: 6,
});

/** Number of 2-bit codes. */
export const QUANT_BINS = 4;

/** Result of {@link quantize2Bit}. */
export interface Quantized {
  /** One code in 0..3 per value. */
  codes: Uint8Array;
  /** The 4 decode values: `decode(c) = table[c]`. */
  table: Float32Array;
  /** The float32 shift (mean) used for coding. */
  shift: number;
  /** The float32 scale used for coding (0 when σ = 0). */
  scale: number;
}

/** Round half to even (WGSL `round`, `torch.round`). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // half up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Quantizes `values` (all selected values of one tensor, in selection order) to 2-bit codes
 * with a 4-entry table. Throws `RangeError` if a value is not finite (a peer must not publish
 * such an update; the wire format refuses non-finite tables anyway).
 */
export function quantize2Bit(
  values: Float32Array,
  options: Partial<QuantizeOptions> = {},
): Quantized {
  const { rangeSigmas } = { ...DEFAULT_QUANTIZE_OPTIONS, ...options };
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  if (!Number.isFinite(sum)) throw new RangeError("quantize2Bit: non-finite values");
  const mean = n > 0 ? sum / n : 0;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i] - mean;
    ss += d * d;
  }
  const sigma = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  const shift = Math.fround(mean);
  let scale = Math.fround((rangeSigmas * sigma) / QUANT_BINS);
  if (!Number.isFinite(scale)) throw new RangeError("quantize2Bit: scale overflows float32");
  if (!(scale > 0)) scale = 0;

  const codes = new Uint8Array(n);
  const sums = new Float64Array(QUANT_BINS);
  const counts = new Float64Array(QUANT_BINS);
  const half = QUANT_BINS / 2;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    let c = half;
    if (scale > 0) {
      const x = Math.fround(Math.fround(Math.fround(v - shift) / scale) + half);
      c = Math.min(QUANT_BINS - 1, Math.max(0, roundHalfEven(x)));
    }
    codes[i] = c;
    sums[c] += v;
    counts[c]++;
  }
  const table = new Float32Array(QUANT_BINS);
  for (let c = 0; c < QUANT_BINS; c++) {
    table[c] = counts[c] > 0 ? sums[c] / counts[c] : shift + (c - half) * scale;
  }
  return { codes, table, shift, scale };
}

/** Decodes codes through a table: `out[i] = table[codes[i]]`. */
export function dequantize2Bit(
  codes: Uint8Array,
  table: Float32Array,
  out = new Float32Array(codes.length),
): Float32Array {
  for (let i = 0; i < codes.length; i++) out[i] = table[codes[i]];
  return out;
}
