/**
 * `Ops` on the plain TypeScript references: float32 arrays, executed eagerly.
 * Views are subarrays, so they alias like GPU buffer ranges do.
 */
import type { Kernels, Memory, Ops } from "./ops.ts";
import * as reference from "../reference/mod.ts";
import { cpuCompressor } from "./compressor_cpu.ts";

/** A CPU tensor: float data, or uint32 for indices. */
export type CpuTensor = Float32Array | Float64Array | Uint32Array;

const memory = (Floats: Float32ArrayConstructor | Float64ArrayConstructor): Memory<CpuTensor> => ({
  name: Floats === Float64Array ? "cpu-reference-f64" : "cpu-reference",
  tensor: (length) => new Floats(length),
  indices: (length) => new Uint32Array(length),
  view: (t, start, length) => t.subarray(start, start + length),
  write(t, data) {
    if (data.length !== t.length) {
      throw new Error(`write: ${data.length} elements for a tensor of ${t.length}`);
    }
    t.set(data);
  },
  read: (t) => Promise.resolve(Float32Array.from(t)),
  zero: (t) => void t.fill(0),
  copy: (dst, src) => void dst.set(src),
});

/** Every kernel is its reference, which takes the same arguments. */
const kernels: Kernels<CpuTensor> = {
  matmul: reference.matmul,
  embeddingForward: reference.embeddingForward,
  embeddingBackward: reference.embeddingBackward,
  rmsnormForward: reference.rmsnormForward,
  rmsnormBackward: reference.rmsnormBackward,
  ropeForward: reference.ropeForward,
  ropeBackward: reference.ropeBackward,
  attentionForward: reference.attentionForward,
  attentionBackward: reference.attentionBackward,
  swigluForward: reference.swigluForward,
  swigluBackward: reference.swigluBackward,
  crossEntropyForward: reference.crossEntropyForward,
  crossEntropyBackward: reference.crossEntropyBackward,
  residualForward: reference.residualForward,
  accumulate: reference.accumulate,
  gradClip: reference.gradClip,
  adamw: reference.adamw,
};

/**
 * The reference backend, in float32 (what the GPU computes) or float64 (for finite-difference
 * checks of the whole model).
 */
export function cpuOps(precision: 32 | 64 = 32): Ops<CpuTensor> {
  return { ...memory(precision === 64 ? Float64Array : Float32Array), ...kernels, compressor: cpuCompressor };
}
