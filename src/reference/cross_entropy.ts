/** Softmax cross-entropy reference (CPU): names and argument order of src/kernels/cross_entropy.ts. */
import type { Floats } from "./types.ts";

/** max and Σ exp(x − max) of row i. */
function rowStats(logits: Floats, base: number, V: number): { m: number; s: number } {
  let m = -Infinity;
  for (let j = 0; j < V; j++) m = Math.max(m, logits[base + j]);
  let s = 0;
  for (let j = 0; j < V; j++) s += Math.exp(logits[base + j] - m);
  return { m, s };
}

/**
 * losses(N) = logsumexp(logits[i]) − logits[i, targets[i]] (numerically stable).
 * logits: (N,V), targets: (N) u32 < V.
 */
export function crossEntropyForward(
  losses: Floats,
  logits: Floats,
  targets: Uint32Array,
  N: number,
  V: number,
): void {
  for (let i = 0; i < N; i++) {
    const base = i * V;
    const { m, s } = rowStats(logits, base, V);
    losses[i] = Math.log(s) + (m - logits[base + targets[i]]);
  }
}

/**
 * dlogits(N,V) = scale · (softmax(logits[i]) − onehot(targets[i]))  (written; the mean loss uses
 * scale = 1/N).  logits: (N,V), targets: (N) u32 < V.
 */
export function crossEntropyBackward(
  dlogits: Floats,
  logits: Floats,
  targets: Uint32Array,
  N: number,
  V: number,
  scale: number,
): void {
  for (let i = 0; i < N; i++) {
    const base = i * V;
    const { m, s } = rowStats(logits, base, V);
    for (let j = 0; j < V; j++) {
      const p = Math.exp(logits[base + j] - m) / s;
      dlogits[base + j] = scale * (j === targets[i] ? p - 1 : p);
    }
  }
}
