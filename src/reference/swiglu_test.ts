import { swigluBackward, swigluForward } from "./swiglu.ts";
import { Rng } from "../util/rng.ts";
import { assertGrad, checkGradient, dot, normals64 } from "../../test/fd.ts";

Deno.test("swiglu backward matches finite differences", () => {
  const n = 41, rng = new Rng(7);
  const gate = normals64(rng, n, 2), up = normals64(rng, n), r = normals64(rng, n);
  const out = new Float64Array(n);
  const loss = () => (swigluForward(out, gate, up, n), dot(out, r));
  const dgate = new Float64Array(n), dup = new Float64Array(n);
  swigluBackward(dgate, dup, r, gate, up, n);
  assertGrad("swiglu dgate", checkGradient(gate, dgate, loss));
  assertGrad("swiglu dup", checkGradient(up, dup, loss));
});

Deno.test("swiglu stays finite for saturated gates", () => {
  const gate = new Float64Array([-1000, 1000]), up = new Float64Array([2, 3]);
  const out = new Float64Array(2), dgate = new Float64Array(2), dup = new Float64Array(2);
  swigluForward(out, gate, up, 2);
  swigluBackward(dgate, dup, new Float64Array([1, 1]), gate, up, 2);
  const all = [...out, ...dgate, ...dup];
  if (!all.every(Number.isFinite)) throw new Error(`non-finite: ${all}`);
  if (out[0] !== 0 || out[1] !== 3000) throw new Error(`silu saturates to 0 and g: got ${out}`);
});
