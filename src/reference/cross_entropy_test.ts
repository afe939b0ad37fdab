import { crossEntropyBackward, crossEntropyForward } from "./cross_entropy.ts";
import { Rng } from "../util/rng.ts";
import { assertGrad, checkGradient, normals64 } from "../../test/fd.ts";

Deno.test("crossEntropy backward matches finite differences of the scaled loss sum", () => {
  const N = 4, V = 9, scale = 1 / N, rng = new Rng(9);
  const logits = normals64(rng, N * V, 2);
  const targets = new Uint32Array([0, 8, 3, 3]);
  const losses = new Float64Array(N);
  const loss = () => {
    crossEntropyForward(losses, logits, targets, N, V);
    return losses.reduce((a, b) => a + b, 0) * scale;
  };
  const dlogits = new Float64Array(N * V);
  crossEntropyBackward(dlogits, logits, targets, N, V, scale);
  assertGrad("crossEntropy dlogits", checkGradient(logits, dlogits, loss));
});

Deno.test("crossEntropy forward is stable for large logits", () => {
  const V = 3, logits = new Float64Array([1000, 1001, 999]), losses = new Float64Array(1);
  crossEntropyForward(losses, logits, new Uint32Array([1]), 1, V);
  const want = Math.log(Math.exp(-1) + 1 + Math.exp(-2));
  if (!(Math.abs(losses[0] - want) < 1e-12)) throw new Error(`loss ${losses[0]}, want ${want}`);
});
