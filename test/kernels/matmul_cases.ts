import { matmul, matmulNaive, matmulSplits } from "../../src/kernels/matmul.ts";
import * as ref from "../../src/reference/matmul.ts";
import { Rng } from "../../src/util/rng.ts";
import { type CheckResult, compare, type KernelCase, upload } from "./check.ts";

/**
 * (M, N, K): single elements, one row, sizes off the 64-tile and the 16-step, a long row
 * (N > 4096, the LM head's shape), a full 256³, and a long K with one output tile, which takes the
 * split-K path (weight gradients). Kept small otherwise: SwiftShader runs ~0.1–0.3 GFLOP/s.
 */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 300, 7],
  [65, 63, 130],
  [128, 64, 256],
  [17, 4100, 20],
  [256, 256, 256],
  [33, 40, 4100],
];

const U = 2 ** -24;

/**
 * Inputs are N(0,1), so an output sums K products of size ~1 and its partial sums wander to
 * ~√K (or to |result| when that is larger): the float32 rounding error of the sequential sum grows
 * like u·K absolute plus u·√K relative. Measured worst: 1.5× these units (17×4100×33 NT); allow 4×.
 */
function tolerance(K: number): [number, number] {
  return [4 * K * U, 4 * Math.sqrt(K) * U];
}

function matmulCase(M: number, N: number, K: number, transA: boolean, transB: boolean): KernelCase {
  const shape = `${M}×${N}×${K} ${transA ? "T" : "N"}${transB ? "T" : "N"}` +
    (matmulSplits(M, N, K) > 1 ? ` split ${matmulSplits(M, N, K)}` : "");
  return {
    kernel: "matmul",
    shape,
    async run(rt) {
      const rng = new Rng(M * 7919 + N * 131 + K + (transA ? 2 : 0) + (transB ? 1 : 0));
      // Stored as the flags say: a is (K,M) when transA, b is (N,K) when transB.
      const a = rng.normals(M * K), b = rng.normals(K * N), c0 = rng.normals(M * N);
      const want = new Float32Array(M * N), wantAcc = Float32Array.from(c0);
      ref.matmul(want, a, b, { M, N, K, transA, transB });
      ref.matmul(wantAcc, a, b, { M, N, K, transA, transB, accumulate: true });
      const [atol, rtol] = tolerance(K);

      const ta = upload(rt, a, "a"), tb = upload(rt, b, "b");
      const results: CheckResult[] = [];
      // Tuned: plain (into NaN garbage, so a missed write shows) and accumulating, every combo.
      const out = upload(rt, new Float32Array(M * N).fill(NaN), "out"), acc = upload(rt, c0, "acc");
      matmul(rt, out, ta, tb, { M, N, K, transA, transB });
      matmul(rt, acc, ta, tb, { M, N, K, transA, transB, accumulate: true });
      const got = await rt.read(out);
      results.push(compare("matmul", shape, "out", got, want, atol, rtol));
      results.push(compare("matmul", shape, "out +=", await rt.read(acc), wantAcc, atol, rtol));
      if (!transA && !transB) {
        // Deterministic: a second run is bit-identical.
        matmul(rt, out, ta, tb, { M, N, K, transA, transB });
        results.push(compare("matmul", shape, "rerun bitwise", await rt.read(out), got, 0, 0));
      }
      // Naive (slow on SwiftShader): one run per combo, accumulating in half of them.
      const naiveAcc = transA !== transB;
      const naive = upload(rt, naiveAcc ? c0 : new Float32Array(M * N).fill(NaN), "naive");
      matmulNaive(rt, naive, ta, tb, { M, N, K, transA, transB, accumulate: naiveAcc });
      results.push(compare(
        "matmulNaive",
        shape,
        naiveAcc ? "out +=" : "out",
        await rt.read(naive),
        naiveAcc ? wantAcc : want,
        atol,
        rtol,
      ));
      for (const t of [out, acc, naive]) rt.dispose(t);
      rt.dispose(ta);
      rt.dispose(tb);
      return results;
    },
  };
}

/** Tuned and naive matmul, every transpose combination, plain and accumulating, on awkward shapes. */
export const matmulCases: KernelCase[] = SHAPES.flatMap(([M, N, K]) =>
  ([[false, false], [false, true], [true, false], [true, true]] as const).map(([ta, tb]) =>
    matmulCase(M, N, K, ta, tb)
  )
);
