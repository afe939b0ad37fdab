import { attentionBackward, attentionForward } from "./attention.ts";
import { Rng } from "../util/rng.ts";
import { assertGrad, checkGradient, dot, normals64 } from "../../test/fd.ts";

Deno.test("attention backward matches finite differences", () => {
  // Tiny grouped-query shape: 2 query heads per kv head, so dk/dv sum over a group.
  const B = 2, T = 5, NH = 4, NKV = 2, D = 4, rng = new Rng(7);
  const nq = B * T * NH * D, nkv = B * T * NKV * D;
  const q = normals64(rng, nq), k = normals64(rng, nkv), v = normals64(rng, nkv);
  const r = normals64(rng, nq);
  const out = new Float64Array(nq), lse = new Float64Array(B * NH * T);
  const loss = () => (attentionForward(out, lse, q, k, v, B, T, NH, NKV, D), dot(out, r));
  loss();
  const dq = new Float64Array(nq), dk = new Float64Array(nkv), dv = new Float64Array(nkv);
  attentionBackward(dq, dk, dv, r, q, k, v, out, lse, B, T, NH, NKV, D);
  const opts = { samples: nq };
  assertGrad("attention dq", checkGradient(q, dq, loss, opts));
  assertGrad("attention dk", checkGradient(k, dk, loss, opts));
  assertGrad("attention dv", checkGradient(v, dv, loss, opts));
});

Deno.test("attention forward is causal and grouped", () => {
  const B = 1, T = 6, NH = 2, NKV = 1, D = 3, rng = new Rng(8);
  const q = normals64(rng, B * T * NH * D), k = normals64(rng, B * T * NKV * D);
  const v = normals64(rng, B * T * NKV * D);
  const out = new Float64Array(q.length), lse = new Float64Array(B * NH * T);
  attentionForward(out, lse, q, k, v, B, T, NH, NKV, D);
  // Row 0 sees only key 0: out = v_0 and lse = its own scaled score, for both heads.
  for (let h = 0; h < NH; h++) {
    for (let d = 0; d < D; d++) {
      if (Math.abs(out[h * D + d] - v[d]) > 1e-12) throw new Error(`head ${h}: out_0 ≠ v_0`);
    }
    const s = (q[h * D] * k[0] + q[h * D + 1] * k[1] + q[h * D + 2] * k[2]) / Math.sqrt(D);
    if (Math.abs(lse[h * T] - s) > 1e-12) throw new Error(`head ${h}: lse_0 ${lse[h * T]} ≠ ${s}`);
  }
  // Changing the last key and value changes only the last row.
  const before = out.slice();
  k[(T - 1) * D] += 1;
  v[(T - 1) * D] += 1;
  attentionForward(out, lse, q, k, v, B, T, NH, NKV, D);
  for (let i = 0; i < out.length; i++) {
    const t = Math.floor(i / (NH * D));
    if (t < T - 1 && out[i] !== before[i]) throw new Error(`row ${t} saw a future key`);
    if (t === T - 1 && i % D === 0 && out[i] === before[i]) {
      throw new Error("last row ignored its key");
    }
  }
});
