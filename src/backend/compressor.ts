/**
 * Compression behind the backend: a peer's SparseLoCo compression of a whole model, run where
 * its parameters live. `cpuCompressor` (compressor_cpu.ts) is the reference itself;
 * `GpuCompressor` (compressor_gpu.ts) keeps θ_start and the error-feedback buffer on the device
 * and reads back only the kept indices and values. Both give byte-identical payloads and
 * error-feedback buffers for the same inputs (test/kernels/compressor_cases.ts: under Deno
 * `deno test -A --unstable-webgpu test/kernels_test.ts --filter compressor`, and on the kernel
 * page in Chromium).
 *
 * @module
 */

import type { CompressOptions, QuantizedTensor } from "../reference/sparseloco/compress.ts";
import type { TensorEntry } from "../reference/sparseloco/compress_model.ts";

/** The flat parameter layout a compressor works on (a `ParamLayout` fits). */
export interface CompressorLayout {
  /** The tensors, in layout (and wire) order. */
  readonly entries: readonly TensorEntry[];
  /** Elements of the flat buffers (parameters and error feedback), padding included. */
  readonly length: number;
}

/**
 * One peer's compression state across windows: θ at the window's start and the error-feedback
 * buffer e (zeros until {@link Compressor.loadError}). Per window: `begin` when θ_w has been
 * written to the parameters, inner steps, then `compress`.
 */
export interface Compressor<T> {
  /**
   * True when e lives on a device: {@link Compressor.readError} is then a full read-back
   * (4 bytes a parameter), to be done only to persist it.
   */
  readonly onDevice: boolean;
  /** Takes θ_start from `params` (the flat parameters, θ_w just written). */
  begin(params: T): void;
  /**
   * Compresses Δ = θ_start − params into e, as `compressModel` does: e = β·e + Δ, per-tile
   * top-k, 2-bit quantization, e −= what was sent. Returns one tensor per layout entry, ready
   * for `encodeUpdate`. Throws `RangeError` on a non-finite e (e is then unspecified).
   */
  compress(params: T): Promise<QuantizedTensor[]>;
  /** Replaces e (the layout's length), e.g. with a saved buffer. */
  loadError(error: Float32Array): void;
  /** A copy of e (the layout's length). */
  readError(): Promise<Float32Array>;
  /** Releases what the compressor holds on its device. */
  dispose(): void;
}

/** What a backend offers: a compressor for a run's layout and compression options. */
export interface CompressorSource<T> {
  /** Throws `RangeError` on a bad layout or options the wire format cannot carry. */
  compressor(layout: CompressorLayout, options: Partial<CompressOptions>): Compressor<T>;
}

/** Returns `options`, refusing `quantize: false`: the wire format carries 2-bit codes only. */
export function wireOptions(options: Partial<CompressOptions>): Partial<CompressOptions> {
  if (options.quantize === false) {
    throw new RangeError("compressor: only quantized compression (the wire format's)");
  }
  return options;
}
