/**
 * The backend boundary: the model and trainer are written against `Ops<T>` with an opaque tensor
 * type, so they never touch GPU types. `gpuOps` runs the WGSL launchers (src/kernels) and
 * `cpuOps` the plain TypeScript references (src/reference): each binds every kernel by name in a
 * table typed as `Kernels<…>`, so a launcher or reference whose parameters drift from this
 * interface fails the type check. Each also makes a peer's compressor (src/backend/compressor.ts),
 * so compression runs where the parameters live. Shapes are row-major, as documented on the kernels.
 */
import type { AdamWParams } from "../reference/adamw.ts";
import type { MatmulShape } from "../reference/matmul.ts";

import type { SplitPoint } from "../gpu/runtime.ts";
import type { CompressorSource } from "./compressor.ts";

export type { AdamWParams, MatmulShape, SplitPoint };

/** Tensor memory: allocation, views, transfers. */
export interface Memory<T> {
  readonly name: string;
  /**
   * Zero-filled float32 tensor. `split`: where a flat tensor may be cut into several GPU buffers
   * when it exceeds one binding (a `ParamLayout`'s entries); every view of one named tensor
   * still lies in one buffer. The CPU backend ignores it.
   */
  tensor(length: number, label?: string, split?: readonly SplitPoint[]): T;
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
  matmul(out: T, a: T, b: T, shape: MatmulShape): void;
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
  adamw(params: T, grads: T, m: T, v: T, clip: T, n: number, hp: AdamWParams): void;
}

/** Memory plus kernels: what the model needs from a backend; plus a peer's compression. */
export type Ops<T> = Memory<T> & Kernels<T> & CompressorSource<T>;
