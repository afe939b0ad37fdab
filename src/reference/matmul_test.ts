import { matmul, matmulBackward } from "./matmul.ts";
import { Rng } from "../util/rng.ts";
import { assertGrad, checkGradient, dot, normals64 } from "../../test/fd.ts";

/** Stored (rows, cols) → (cols, rows). */
function transpose(x: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
  return t;
}

const COMBOS = [[false, false], [false, true], [true, false], [true, true]] as const;

for (const [transA, transB] of COMBOS) {
  const tag = `transA=${transA} transB=${transB}`;

  Deno.test(`matmul backward matches finite differences (${tag})`, () => {
    const M = 5, N = 4, K = 3, rng = new Rng(11 + (transA ? 2 : 0) + (transB ? 1 : 0));
    const a = normals64(rng, M * K), b = normals64(rng, K * N), r = normals64(rng, M * N);
    const out = new Float64Array(M * N);
    const loss = () => (matmul(out, a, b, { M, N, K, transA, transB }), dot(out, r));
    const da = new Float64Array(M * K), db = new Float64Array(K * N);
    matmulBackward(da, db, r, a, b, { M, N, K, transA, transB });
    assertGrad(`matmul da (${tag})`, checkGradient(a, da, loss));
    assertGrad(`matmul db (${tag})`, checkGradient(b, db, loss));
  });

  Deno.test(`matmul transposed storage gives the same product (${tag})`, () => {
    const M = 4, N = 6, K = 5, rng = new Rng(5);
    const a = normals64(rng, M * K), b = normals64(rng, K * N);
    const want = new Float64Array(M * N), got = new Float64Array(M * N);
    matmul(want, a, b, { M, N, K });
    const sa = transA ? transpose(a, M, K) : a, sb = transB ? transpose(b, K, N) : b;
    matmul(got, sa, sb, { M, N, K, transA, transB });
    for (let i = 0; i < want.length; i++) {
      if (Math.abs(got[i] - want[i]) > 1e-12) throw new Error(`[${i}] ${got[i]} vs ${want[i]}`);
    }
  });
}

Deno.test("matmul accumulate adds the product to out", () => {
  const M = 3, N = 2, K = 4, rng = new Rng(9);
  const a = normals64(rng, M * K), b = normals64(rng, K * N), c0 = normals64(rng, M * N);
  const prod = new Float64Array(M * N), acc = Float64Array.from(c0);
  matmul(prod, a, b, { M, N, K, transB: true });
  matmul(acc, a, b, { M, N, K, transB: true, accumulate: true });
  for (let i = 0; i < acc.length; i++) {
    if (Math.abs(acc[i] - (c0[i] + prod[i])) > 1e-12) throw new Error(`[${i}] ${acc[i]}`);
  }
});
