import { rmsnormBackward, rmsnormForward } from "./rmsnorm.ts";
import { Rng } from "../util/rng.ts";
import { assertGrad, checkGradient, dot, normals64 } from "../../test/fd.ts";

Deno.test("rmsnorm backward dx and dw match finite differences", () => {
  const N = 5, C = 13, eps = 1e-5, rng = new Rng(13);
  const x = normals64(rng, N * C), w = normals64(rng, C), r = normals64(rng, N * C);
  const out = new Float64Array(N * C), rstd = new Float64Array(N);
  const loss = () => (rmsnormForward(out, rstd, x, w, N, C, eps), dot(out, r));
  loss(); // rstd at the unperturbed x, as the backward gets it from the forward
  const dx = new Float64Array(N * C), dw = new Float64Array(C);
  rmsnormBackward(dx, dw, r, x, w, rstd, N, C);
  assertGrad("rmsnorm dx", checkGradient(x, dx, loss, { samples: N * C }));
  assertGrad("rmsnorm dw", checkGradient(w, dw, loss));
});

Deno.test("rmsnorm backward accumulates dw and overwrites dx", () => {
  const N = 3, C = 4, rng = new Rng(14);
  const x = normals64(rng, N * C), w = normals64(rng, C), dout = normals64(rng, N * C);
  const out = new Float64Array(N * C), rstd = new Float64Array(N);
  rmsnormForward(out, rstd, x, w, N, C, 1e-6);
  const dx1 = new Float64Array(N * C), dw1 = new Float64Array(C);
  rmsnormBackward(dx1, dw1, dout, x, w, rstd, N, C);
  const dx2 = normals64(rng, N * C), dw2 = normals64(rng, C), dw0 = dw2.slice();
  rmsnormBackward(dx2, dw2, dout, x, w, rstd, N, C);
  for (let i = 0; i < N * C; i++) {
    if (dx2[i] !== dx1[i]) throw new Error(`dx[${i}] not overwritten`);
  }
  for (let c = 0; c < C; c++) {
    if (Math.abs(dw2[c] - (dw0[c] + dw1[c])) > 1e-12) throw new Error(`dw[${c}] not accumulated`);
  }
});
