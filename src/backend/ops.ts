/**
 * The backend boundary: the model and trainer are written against `Ops<T>` with an opaque tensor
 * type, so they never touch GPU types. `gpuOps` runs the WGSL launchers (src/kernels) and
 * `cpuOps` the plain TypeScript references (src/reference): both export every kernel under the
 * same name with the same arguments, the launchers taking the runtime first. Each also makes a
 * peer's compressor (src/backend/compressor.ts), so compression runs where the parameters live.
 * Shapes are row-major, as documented on the kernels.
 */

import type { CompressorSource } from "./compressor.ts";

/** AdamW hyper-parameters of one update (step is 1-based). */
export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
}

/** Tensor memory: allocation, views, transfers. */
export interface Memory<T> {
  readonly name: string;
  /** Zero-filled float32 tensor. */
  tensor(length: number, label?: string): T;
  /** Zero-filled uint32 tensor (tokens, indices). */
  indices(length: number, label?: string): T;
  /** Elements [start, start+length) of `t`; start must be a multiple of 64. */
  view(t: T, start: number, length: number, label?: string): T;
  write(t: T, data: Float32Array | Uint32Array): void;
  read(t: T): Promise<Float32Array>;
  zero(t: T): void;
  copy(dst: T, src: T): void;
}

/** Every kernel, forward and backward (see each launcher for shapes). */
export interface Kernels<T> {
  matmul(out: T, a: T, b: T, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean): void;
  embeddingForward(out: T, tokens: T, wte: T, BT: number, C: number): void;
  embeddingBackward(dwte: T, dout: T, rowStart: T, positions: T, V: number, C: number): void;
  rmsnormForward(out: T, rstd: T, x: T, w: T, N: number, C: number, eps: number): void;
  rmsnormBackward(dx: T, dw: T, dout: T, x: T, w: T, rstd: T, N: number, C: number): void;
  ropeForward(out: T, x: T, table: T, B: number, Tn: number, H: number, D: number): void;
  ropeBackward(dx: T, dout: T, table: T, B: number, Tn: number, H: number, D: number): void;
  attentionForward(out: T, lse: T, q: T, k: T, v: T, B: number, Tn: number, NH: number, NKV: number, D: number): void;
  attentionBackward(
    dq: T, dk: T, dv: T, dout: T, q: T, k: T, v: T, out: T, lse: T,
    B: number, Tn: number, NH: number, NKV: number, D: number,
  ): void;
  swigluForward(out: T, gate: T, up: T, n: number): void;
  swigluBackward(dgate: T, dup: T, dout: T, gate: T, up: T, n: number): void;
  crossEntropyForward(losses: T, logits: T, targets: T, N: number, V: number): void;
  crossEntropyBackward(dlogits: T, logits: T, targets: T, N: number, V: number, scale: number): void;
  residualForward(out: T, a: T, b: T, n: number): void;
  accumulate(dst: T, src: T, n: number, scale?: number): void;
  gradClip(out: T, grads: T, n: number, maxNorm: number): void;
  adamw(params: T, grads: T, m: T, v: T, clip: T, n: number, hp: AdamWHyper): void;
}

/** Memory plus kernels: what the model needs from a backend; plus a peer's compression. */
export type Ops<T> = Memory<T> & Kernels<T> & CompressorSource<T>;

/** The kernel names both backends must provide. */
export const KERNEL_NAMES = [
  "matmul", "embeddingForward", "embeddingBackward", "rmsnormForward", "rmsnormBackward",
  "ropeForward", "ropeBackward", "attentionForward", "attentionBackward", "swigluForward",
  "swigluBackward", "crossEntropyForward", "crossEntropyBackward", "residualForward",
  "accumulate", "gradClip", "adamw",
] as const satisfies readonly (keyof Kernels<unknown>)[];

/** Picks the kernels out of a module namespace, failing loudly if one is missing. */
export function pickKernels<F>(
  module: Record<string, unknown>,
  bind: (fn: (...args: unknown[]) => void) => F,
  where: string,
): Record<(typeof KERNEL_NAMES)[number], F> {
  const out = {} as Record<(typeof KERNEL_NAMES)[number], F>;
  for (const name of KERNEL_NAMES) {
    const fn = module[name];
    if (typeof fn !== "function") throw new Error(`${where} does not export kernel ${name}`);
    out[name] = bind(fn as (...args: unknown[]) => void);
  }
  return out;
}
