/**
 * Causal grouped-query attention, plain TypeScript: query head h reads kv head
 * floor(h / (NH/NKV)); scores are (q·k)/sqrt(D) over keys s ≤ t.
 */
import type { Floats } from "./types.ts";

/**
 * out: (B,T,NH,D); lse: (B,NH,T) the log-sum-exp of each query row's scaled scores (saved for
 * backward); q: (B,T,NH,D); k, v: (B,T,NKV,D).
 */
export function attentionForward(
  out: Floats,
  lse: Floats,
  q: Floats,
  k: Floats,
  v: Floats,
  B: number,
  T: number,
  NH: number,
  NKV: number,
  D: number,
): void {
  const G = NH / NKV, scale = 1 / Math.sqrt(D);
  const scores = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kvh = Math.floor(h / G);
      for (let t = 0; t < T; t++) {
        const qo = ((b * T + t) * NH + h) * D;
        let m = -Infinity;
        for (let s = 0; s <= t; s++) {
          const ko = ((b * T + s) * NKV + kvh) * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
          scores[s] = dot * scale;
          m = Math.max(m, scores[s]);
        }
        let l = 0;
        for (let s = 0; s <= t; s++) l += scores[s] = Math.exp(scores[s] - m);
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let s = 0; s <= t; s++) acc += scores[s] * v[((b * T + s) * NKV + kvh) * D + d];
          out[qo + d] = acc / l;
        }
        lse[(b * NH + h) * T + t] = m + Math.log(l);
      }
    }
  }
}

/**
 * dq: (B,T,NH,D), dk, dv: (B,T,NKV,D) — all written (=), not accumulated; dout, q, out:
 * (B,T,NH,D); k, v: (B,T,NKV,D); out and lse as written by attentionForward.
 */
export function attentionBackward(
  dq: Floats,
  dk: Floats,
  dv: Floats,
  dout: Floats,
  q: Floats,
  k: Floats,
  v: Floats,
  out: Floats,
  lse: Floats,
  B: number,
  T: number,
  NH: number,
  NKV: number,
  D: number,
): void {
  const G = NH / NKV, scale = 1 / Math.sqrt(D);
  dq.fill(0, 0, B * T * NH * D);
  dk.fill(0, 0, B * T * NKV * D);
  dv.fill(0, 0, B * T * NKV * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kvh = Math.floor(h / G);
      for (let t = 0; t < T; t++) {
        const qo = ((b * T + t) * NH + h) * D;
        const l = lse[(b * NH + h) * T + t];
        // softmax backward: ds = p·(dp − Σ p·dp), and Σ_s p·dp = dout·out.
        let delta = 0;
        for (let d = 0; d < D; d++) delta += dout[qo + d] * out[qo + d];
        for (let s = 0; s <= t; s++) {
          const ko = ((b * T + s) * NKV + kvh) * D;
          let score = 0, dp = 0;
          for (let d = 0; d < D; d++) {
            score += q[qo + d] * k[ko + d];
            dp += dout[qo + d] * v[ko + d];
          }
          const p = Math.exp(score * scale - l);
          const ds = p * (dp - delta) * scale;
          for (let d = 0; d < D; d++) {
            dq[qo + d] += ds * k[ko + d];
            dk[ko + d] += ds * q[qo + d];
            dv[ko + d] += p * dout[qo + d];
          }
        }
      }
    }
  }
}
