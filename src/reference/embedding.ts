/** Token embedding reference (CPU), same names and argument order as src/kernels/embedding.ts. */
import type { Floats } from "./types.ts";

/** out(BT,C) = wte[tokens[i]].  tokens: (BT) u32; wte: (V,C). */
export function embeddingForward(
  out: Floats,
  tokens: Uint32Array,
  wte: Floats,
  BT: number,
  C: number,
): void {
  for (let i = 0; i < BT; i++) {
    const src = tokens[i] * C;
    for (let c = 0; c < C; c++) out[i * C + c] = wte[src + c];
  }
}

/**
 * The inverse index of a batch for the deterministic backward: rowStart (V+1) and positions (BT):
 * the positions of token v are positions[rowStart[v] .. rowStart[v+1]), ascending.
 * A counting sort, O(BT + V); the caller runs it on the CPU per batch and uploads both arrays.
 */
export function embeddingIndex(
  tokens: Uint32Array,
  V: number,
): { rowStart: Uint32Array; positions: Uint32Array } {
  const rowStart = new Uint32Array(V + 1);
  for (let p = 0; p < tokens.length; p++) {
    const t = tokens[p];
    if (t >= V) {
      throw new Error(
        `embeddingIndex: token ${t} at position ${p} is outside the vocabulary of ${V}`,
      );
    }
    rowStart[t + 1]++;
  }
  for (let v = 0; v < V; v++) rowStart[v + 1] += rowStart[v];
  // Filling in ascending p keeps each token's positions ascending (a stable sort).
  const next = rowStart.slice(0, V);
  const positions = new Uint32Array(tokens.length);
  for (let p = 0; p < tokens.length; p++) positions[next[tokens[p]]++] = p;
  return { rowStart, positions };
}

/**
 * dwte(V,C) += Σ over positions p of token v of dout[p]  (summed in ascending p, no atomics).
 * rowStart: (V+1) u32, positions: (BT) u32, dout: (BT,C).
 */
export function embeddingBackward(
  dwte: Floats,
  dout: Floats,
  rowStart: Uint32Array,
  positions: Uint32Array,
  V: number,
  C: number,
): void {
  for (let v = 0; v < V; v++) {
    for (let c = 0; c < C; c++) {
      let acc = 0;
      for (let k = rowStart[v]; k < rowStart[v + 1]; k++) acc += dout[positions[k] * C + c];
      dwte[v * C + c] += acc;
    }
  }
}
