import type { Floats } from "./types.ts";

/**
 * The shape and layout of one product out(M,N) = op(A)·op(B): op(A) is (M,K), A stored (M,K) or
 * (K,M) when `transA`; op(B) is (K,N), B stored (K,N) or (N,K) when `transB`; `accumulate` adds
 * into `out` instead of overwriting it. Named so that a call site reads as what it computes.
 */
export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  accumulate?: boolean;
}

/**
 * out(M,N) = op(A)·op(B) (or += when accumulate), row-major, laid out as `MatmulShape` says.
 * Sums in the precision of JS numbers (float64) and rounds once into `out`.
 */
export function matmul(
  out: Floats,
  a: Floats,
  b: Floats,
  { M, N, K, transA = false, transB = false, accumulate = false }: MatmulShape,
): void {
  // Strides of op(A)[i,k] and op(B)[k,j] in the stored arrays.
  const [ai, ak] = transA ? [1, M] : [K, 1];
  const [bk, bj] = transB ? [1, K] : [N, 1];
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[i * ai + k * ak] * b[k * bk + j * bj];
      out[i * N + j] = accumulate ? out[i * N + j] + s : s;
    }
  }
}

/**
 * Gradients of `matmul` (not accumulating) w.r.t. the stored A and B, given dout (M,N):
 * da has A's stored shape, db has B's. With C = op(A)·op(B): d op(A) = dC·op(B)ᵀ and
 * d op(B) = op(A)ᵀ·dC; a transposed operand takes the transpose of its gradient, which is again
 * one `matmul` with the operands swapped. The GPU backward calls the launcher the same way.
 */
export function matmulBackward(
  da: Floats,
  db: Floats,
  dout: Floats,
  a: Floats,
  b: Floats,
  { M, N, K, transA = false, transB = false }: Omit<MatmulShape, "accumulate">,
): void {
  if (transA) matmul(da, b, dout, { M: K, N: M, K: N, transA: transB, transB: true }); // dA (K,M) = op(B)·dCᵀ
  else matmul(da, dout, b, { M, N: K, K: N, transB: !transB }); // dA (M,K) = dC·op(B)ᵀ
  if (transB) matmul(db, dout, a, { M: N, N: K, K: M, transA: true, transB: transA }); // dB (N,K) = dCᵀ·op(A)
  else matmul(db, a, dout, { M: K, N, K: M, transA: !transA }); // dB (K,N) = op(A)ᵀ·dC
}
