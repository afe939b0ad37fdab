import { accumulate, residualForward } from "./residual.ts";
import { Rng } from "../util/rng.ts";
import { assertGrad, checkGradient, dot, normals64 } from "../../test/fd.ts";

Deno.test("residual backward matches finite differences", () => {
  const n = 37, rng = new Rng(3);
  const a = normals64(rng, n), b = normals64(rng, n), r = normals64(rng, n);
  const out = new Float64Array(n);
  const loss = () => (residualForward(out, a, b, n), dot(out, r));
  // The residual passes dout to both inputs: da = db = accumulate(0, dout).
  const da = new Float64Array(n), db = new Float64Array(n);
  accumulate(da, r, n);
  accumulate(db, r, n);
  assertGrad("residual da", checkGradient(a, da, loss));
  assertGrad("residual db", checkGradient(b, db, loss));
});
