import { matmul, matmulNaive, matmulSplits } from "../../src/kernels/matmul.ts";
import * as ref from "../../src/reference/matmul.ts";
import { Rng } from "../../src/data/rng.ts";
import { type CheckResult, compare, type KernelCase, upload } from "./check.ts";

/**
 * (M, N, K): single elements, one row, sizes off the 64-tile and 16-step, a long row (N > 4096),
 * a full 256³, and a long K with few output tiles, which takes the split-K path.
 */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 300, 7],
  [65, 63, 130],
  [128, 64, 256],
  [17, 4100, 33],
  [256, 256, 256],
  [70, 33, 4100],
];

const U = 2 ** -24;

/**
 * Inputs are N(0,1), so an output sums K products of size ~1 and float32's rounding error grows
 * with K: |err| ≤ 2·K·u absolute (K·u/√6 is its typical size) plus 2 ulp relative for the final
 * rounding and the accumulate's add.
 */
function tolerance(K: number): [number, number] {
  return [2 * K * U + 1e-7, 4 * U];
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
      ref.matmul(want, a, b, M, N, K, transA, transB, false);
      ref.matmul(wantAcc, a, b, M, N, K, transA, transB, true);
      const [atol, rtol] = tolerance(K);

      const ta = upload(rt, a, "a"), tb = upload(rt, b, "b");
      const results: CheckResult[] = [];
      for (const [name, fn] of [["matmul", matmul], ["matmulNaive", matmulNaive]] as const) {
        const out = rt.tensor(M * N, "f32", "out"), acc = upload(rt, c0, "acc");
        // `out` starts as garbage so that a missed write shows.
        rt.write(out, new Float32Array(M * N).fill(NaN));
        fn(rt, out, ta, tb, M, N, K, transA, transB, false);
        fn(rt, acc, ta, tb, M, N, K, transA, transB, true);
        const got = await rt.read(out);
        results.push(compare(name, shape, "out", got, want, atol, rtol));
        results.push(compare(name, shape, "out += ", await rt.read(acc), wantAcc, atol, rtol));
        if (name === "matmul") {
          // Deterministic: a second run is bit-identical.
          fn(rt, out, ta, tb, M, N, K, transA, transB, false);
          results.push(compare(name, shape, "rerun bitwise", await rt.read(out), got, 0, 0));
        }
        rt.dispose(out);
        rt.dispose(acc);
      }
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
