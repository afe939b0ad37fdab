import { attentionBackward, attentionForward } from "./attention.ts";
import {
  attentionBackwardF16,
  attentionForwardF16,
  matmulF16Inputs,
  rmsnormForwardF16,
  swigluForwardF16,
} from "./f16_activations.ts";
import { rmsnormForward } from "./rmsnorm.ts";
import { swigluForward } from "./swiglu.ts";
import { matmul } from "./matmul.ts";
import { packF16, unpackF16 } from "./f16.ts";
import { Rng } from "../util/rng.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { assertGrad, checkGradient, dot, normals64 } from "../../test/fd.ts";

/** Largest |a − b| / (|b| + floor) over the arrays. */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + floor));
  }
  return worst;
}

Deno.test("f16 activation references round the f32 outputs to f16", () => {
  const rng = new Rng(16);
  const N = 3, C = 10, x = rng.normals(N * C), w = rng.normals(C);
  const out = new Float32Array(N * C), rstd = new Float32Array(N), rstd16 = new Float32Array(N);
  rmsnormForward(out, rstd, x, w, N, C, 1e-5);
  const out16 = new Uint32Array(N * C / 2);
  rmsnormForwardF16(out16, rstd16, x, w, N, C, 1e-5);
  assertEquals(rstd16, rstd);
  assertEquals(unpackF16(out16, N * C), unpackF16(packF16(out), N * C));
  // f16 keeps 11 significant bits: within 2⁻¹¹ relative, and not equal to f32 everywhere.
  assert(maxRel(unpackF16(out16, N * C), out, 0) <= 2 ** -11);
  assert(unpackF16(out16, N * C).some((v, i) => v !== out[i]), "nothing was rounded");

  const n = 7, g = rng.normals(n, 4), u = rng.normals(n), h = new Float32Array(n);
  swigluForward(h, g, u, n);
  const h16 = new Uint32Array(4).fill(0xffffffff);
  swigluForwardF16(h16, g, u, n);
  assertEquals(unpackF16(h16, n), unpackF16(packF16(h), n));
  assertEquals(h16[3] >>> 16, 0, "an odd n's last high half is 0");

  // A packed operand and an f32 one are both rounded: the same as multiplying rounded copies.
  const M = 3, K = 5, Nn = 4, a = rng.normals(M * K), b = rng.normals(K * Nn);
  const got = new Float64Array(M * Nn), want = new Float64Array(M * Nn);
  matmulF16Inputs(got, packF16(a), b, { M, N: Nn, K });
  matmul(want, unpackF16(packF16(a), M * K), unpackF16(packF16(b), K * Nn), { M, N: Nn, K });
  assertEquals(got, want);
});

Deno.test("attention backward with f16 out matches finite differences of the f32 forward", () => {
  // The shape of src/reference/attention_test.ts: GQA 2:1, so dk/dv sum over a group.
  const B = 2, T = 5, NH = 4, NKV = 2, D = 4, rng = new Rng(7);
  const nq = B * T * NH * D, nkv = B * T * NKV * D;
  const q = normals64(rng, nq), k = normals64(rng, nkv), v = normals64(rng, nkv);
  const r = normals64(rng, nq);
  const out = new Float64Array(nq), lse = new Float64Array(B * NH * T);
  const loss = () => (attentionForward(out, lse, q, k, v, B, T, NH, NKV, D), dot(out, r));
  loss();
  const out16 = new Uint32Array(nq / 2), lse16 = new Float64Array(B * NH * T);
  attentionForwardF16(out16, lse16, q, k, v, B, T, NH, NKV, D);
  const dq = new Float64Array(nq), dk = new Float64Array(nkv), dv = new Float64Array(nkv);
  attentionBackwardF16(dq, dk, dv, r, q, k, v, out16, lse16, B, T, NH, NKV, D);
  // delta = dout·out with out off by ≤ 2⁻¹¹ relative: the gradients move by about that much of
  // |dout|·|out| per row, far above the f64 check's 1e-4; 4e-3 absolute + 1e-2 relative.
  const opts = { samples: nq, atol: 4e-3, rtol: 1e-2 };
  assertGrad("attention f16 dq", checkGradient(q, dq, loss, opts));
  assertGrad("attention f16 dk", checkGradient(k, dk, loss, opts));
  assertGrad("attention f16 dv", checkGradient(v, dv, loss, opts));
  // dv does not read out at all: equal to the f32 backward's; dq moves, but only a little.
  const dq32 = new Float64Array(nq), dk32 = new Float64Array(nkv), dv32 = new Float64Array(nkv);
  attentionBackward(dq32, dk32, dv32, r, q, k, v, out, lse, B, T, NH, NKV, D);
  assertEquals(dv, dv32);
  assert(dq.some((x, i) => x !== dq32[i]), "f16 out did not reach delta");
});
