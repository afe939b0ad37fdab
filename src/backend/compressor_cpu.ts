/**
 * The CPU compressor: the reference (`pseudoGradient`, then `compressModel`) on host arrays.
 *
 * @module
 */

import { type Compressor, type CompressorLayout, wireOptions } from "./compressor.ts";
import type { CpuTensor } from "./cpu_ops.ts";
import type { CompressOptions, QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { checkLayout, compressModel } from "../reference/sparseloco/compress_model.ts";
import { pseudoGradient } from "../reference/sparseloco/pseudo_gradient.ts";

/** A compressor over the reference for `layout` with `options`. */
export function cpuCompressor(
  layout: CompressorLayout,
  options: Partial<CompressOptions>,
): Compressor<CpuTensor> {
  const opts = wireOptions(options);
  checkLayout(layout.entries, layout.length);
  const error = new Float32Array(layout.length);
  let start: Float32Array | null = null;
  const float32 = (t: CpuTensor, what: string) => {
    if (t.length !== layout.length) {
      throw new RangeError(`compressor: ${what} has ${t.length} elements, layout ${layout.length}`);
    }
    return t instanceof Float32Array ? t : Float32Array.from(t);
  };
  return {
    onDevice: false,
    begin(params) {
      start = float32(params, "params").slice();
    },
    // deno-lint-ignore require-await
    async compress(params) {
      if (start === null) throw new Error("compressor: compress without begin");
      const delta = pseudoGradient(start, float32(params, "params"));
      start = null;
      // quantize is true (wireOptions): every tensor is a QuantizedTensor.
      return compressModel(delta, error, layout.entries, opts) as QuantizedTensor[];
    },
    loadError(e) {
      error.set(float32(e, "error"));
    },
    readError: () => Promise.resolve(error.slice()),
    dispose() {},
  };
}
