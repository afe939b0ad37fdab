/**
 * `Ops` on the plain TypeScript references: float32 arrays, executed eagerly.
 * Views are subarrays, so they alias like GPU buffer ranges do. The matmul runs on WebAssembly
 * SIMD where the runtime has it (src/backend/wasm_matmul.ts), which gives the reference's bits
 * exactly, so every CPU peer holds the same model hashes either way.
 */
import type { Kernels, Memory, Ops } from "./ops.ts";
import * as reference from "../reference/mod.ts";
import { cpuCompressor } from "./compressor_cpu.ts";
import { WasmMatmul, wasmSimdAvailable } from "./wasm_matmul.ts";

/** A CPU tensor: float data, or uint32 for indices. */
export type CpuTensor = Float32Array | Float64Array | Uint32Array;

const memory = (
  Floats: Float32ArrayConstructor | Float64ArrayConstructor,
  name: string,
): Memory<CpuTensor> => ({
  name,
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

/** How {@linkcode cpuOps} computes. */
export interface CpuOptions {
  /**
   * The matmul on WebAssembly SIMD (default: where the runtime has it) or the plain TypeScript
   * reference (`false`; the benchmark's baseline). Both give the same bits.
   */
  wasm?: boolean;
}

/**
 * The reference backend, in float32 (what the GPU computes) or float64 (for finite-difference
 * checks of the whole model). Its `name` says which matmul runs: "cpu-reference" (TypeScript)
 * or "cpu-wasm", with "-f64" for float64.
 */
export function cpuOps(
  precision: 32 | 64 = 32,
  { wasm = wasmSimdAvailable() }: CpuOptions = {},
): Ops<CpuTensor> {
  const Floats = precision === 64 ? Float64Array : Float32Array;
  const name = (wasm ? "cpu-wasm" : "cpu-reference") + (precision === 64 ? "-f64" : "");
  const matmul: Kernels<CpuTensor>["matmul"] = wasm ? wasmMatmul : reference.matmul;
  return { ...memory(Floats, name), ...kernels, matmul, compressor: cpuCompressor };
}

/**
 * The kernel, made on first use and shared by every `cpuOps` of this thread: a call runs to the
 * end before the next starts, so one scratch memory serves them all.
 */
let shared: WasmMatmul | undefined;

const wasmMatmul: Kernels<CpuTensor>["matmul"] = (out, a, b, shape) => {
  if (out instanceof Uint32Array || a instanceof Uint32Array || b instanceof Uint32Array) {
    throw new TypeError("matmul: index tensors cannot be multiplied");
  }
  (shared ??= new WasmMatmul()).matmul(out, a, b, shape);
};
