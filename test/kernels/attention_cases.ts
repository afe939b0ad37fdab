import { attentionBackward, attentionForward } from "../../src/kernels/attention.ts";
import * as ref from "../../src/reference/attention.ts";
import { Rng } from "../../src/util/rng.ts";
import type { GpuTensor } from "../../src/gpu/runtime.ts";
import { type CheckResult, compare, type KernelCase, upload } from "./check.ts";

// [B, T, NH, NKV, D]: one row; T not a multiple of the row tile (BR = 64/TPR rows) or of the
// streamed tile (BC rows): 7, 37, 65, 130; group sizes 1, 2, 3, 4; D = 16 (the tiny preset,
// one lane per row), 20 (D/4 = 5 columns over 2 lanes: a lane with a column short), 64, 128 (8
// lanes of 4 columns); T = 1024; and T = 2048 at D = 128, the longest context with the largest
// head, on Deno's wgpu only (WEBLOCO_GPU=wgpu): on Dawn/SwiftShader that one case took ~10 min
// of the loaded 2 cores (it passed, 2026-12-01), too long for CI; in Chromium it is left out too.
// Few distinct D on purpose: each is its own pipeline, and software compilers are slow.
const LONG = globalThis.Deno?.env.get("WEBLOCO_GPU") === "wgpu";
const SHAPES: [number, number, number, number, number][] = [
  [1, 1, 2, 1, 16],
  [2, 7, 4, 2, 16],
  [1, 65, 3, 1, 20],
  [2, 128, 4, 4, 64],
  [1, 130, 2, 1, 128],
  [1, 1024, 2, 1, 16],
  ...(LONG ? [[1, 2048, 1, 1, 128] as [number, number, number, number, number]] : []),
];

// float32 against the float64 reference: dot products over D and sums over up to T keys, each
// rounding relative 2⁻²⁴ per term, on values of order 1 (inputs are unit normals). Worst seen
// (Dawn/SwiftShader, every shape here including T = 2048, D = 128) is at most 0.22 of these.
// Gradients sum over up to T rows (and the group) with cancellation, so their absolute error
// grows like sqrt(T): atol scales with it past T = 256.
function tolerances(T: number): Record<string, [number, number]> {
  const grad = 5e-6 * Math.sqrt(Math.max(1, T / 256));
  return {
    out: [1e-6, 1e-5],
    lse: [2e-6, 1e-6],
    dq: [grad, 2e-5],
    dk: [grad, 2e-5],
    dv: [grad, 2e-5],
  };
}

/** Attention forward (out, lse) and backward (dq, dk, dv) against the float64 reference. */
export const attentionCases: KernelCase[] = SHAPES.map(([B, T, NH, NKV, D]) => {
  const shape = `B=${B} T=${T} NH=${NH} NKV=${NKV} D=${D}`;
  return {
    kernel: "attention",
    shape,
    async run(rt) {
      const nq = B * T * NH * D, nkv = B * T * NKV * D, nl = B * NH * T;
      const rng = new Rng(T * 131 + NH * 7 + D);
      const q = rng.normals(nq), k = rng.normals(nkv), v = rng.normals(nkv), dout = rng.normals(nq);
      const tq = upload(rt, q, "q"), tk = upload(rt, k, "k"), tv = upload(rt, v, "v");
      const tdout = upload(rt, dout, "dout");
      const out = rt.tensor(nq, "f32", "out"), lse = rt.tensor(nl, "f32", "lse");
      const dq = rt.tensor(nq, "f32", "dq"), dk = rt.tensor(nkv, "f32", "dk");
      const dv = rt.tensor(nkv, "f32", "dv");
      attentionForward(rt, out, lse, tq, tk, tv, B, T, NH, NKV, D);
      attentionBackward(rt, dq, dk, dv, tdout, tq, tk, tv, out, lse, B, T, NH, NKV, D);

      // The reference in float64 on the same float32 inputs: the error measured is the kernel's.
      const f64 = (a: Float32Array) => Float64Array.from(a);
      const q64 = f64(q), k64 = f64(k), v64 = f64(v), dout64 = f64(dout);
      const wOut = new Float64Array(nq), wLse = new Float64Array(nl);
      const wDq = new Float64Array(nq), wDk = new Float64Array(nkv), wDv = new Float64Array(nkv);
      ref.attentionForward(wOut, wLse, q64, k64, v64, B, T, NH, NKV, D);
      ref.attentionBackward(wDq, wDk, wDv, dout64, q64, k64, v64, wOut, wLse, B, T, NH, NKV, D);

      const results: CheckResult[] = [], tol = tolerances(T);
      const check = (entry: string, name: string, got: Float32Array, want: Float64Array) =>
        results.push(compare(`attention.${entry}`, shape, name, got, want, ...tol[name]));
      const gotOut = await rt.read(out), gotLse = await rt.read(lse);
      check("forward", "out", gotOut, wOut);
      check("forward", "lse", gotLse, wLse);
      const gotDq = await rt.read(dq), gotDk = await rt.read(dk), gotDv = await rt.read(dv);
      check("backward", "dq", gotDq, wDq);
      check("backward", "dk", gotDk, wDk);
      check("backward", "dv", gotDv, wDv);

      // Determinism, and = rather than +=: running again over dirty outputs gives the same bits.
      rt.write(dq, Float32Array.from(wDq, (x) => x + 1));
      attentionBackward(rt, dq, dk, dv, tdout, tq, tk, tv, out, lse, B, T, NH, NKV, D);
      rt.write(out, Float32Array.from(wOut, (x) => x + 1));
      attentionForward(rt, out, lse, tq, tk, tv, B, T, NH, NKV, D);
      const again = async (name: string, t: GpuTensor, first: Float32Array) =>
        results.push(compare("attention", shape, `${name} rerun`, await rt.read(t), first, 0, 0));
      await again("out", out, gotOut);
      await again("lse", lse, gotLse);
      await again("dq", dq, gotDq);
      await again("dk", dk, gotDk);
      await again("dv", dv, gotDv);
      for (const t of [tq, tk, tv, tdout, out, lse, dq, dk, dv]) rt.dispose(t);
      return results;
    },
  };
});
