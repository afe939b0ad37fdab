import { ropeBackward, ropeForward, ropeTable } from "./rope.ts";
import { Rng } from "../util/rng.ts";
import { assertGrad, checkGradient, dot, normals64 } from "../../test/fd.ts";

Deno.test("rope backward matches finite differences", () => {
  const B = 2, T = 5, H = 3, D = 8, n = B * T * H * D, rng = new Rng(11);
  const table = ropeTable(T, D, 10000);
  const x = normals64(rng, n), r = normals64(rng, n);
  const out = new Float64Array(n);
  const loss = () => (ropeForward(out, x, table, B, T, H, D), dot(out, r));
  const dx = new Float64Array(n);
  ropeBackward(dx, r, table, B, T, H, D);
  assertGrad("rope dx", checkGradient(x, dx, loss, { samples: n }));
});

Deno.test("ropeTable follows t·theta^(−2i/D)", () => {
  const T = 4, D = 6, theta = 500, table = ropeTable(T, D, theta);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < D / 2; i++) {
      const a = t / Math.pow(theta, (2 * i) / D);
      if (table[2 * (t * 3 + i)] !== Math.fround(Math.cos(a))) throw new Error(`cos t=${t} i=${i}`);
      if (table[2 * (t * 3 + i) + 1] !== Math.fround(Math.sin(a))) {
        throw new Error(`sin t=${t} i=${i}`);
      }
    }
  }
});

Deno.test("rope forward rotates pairs (i, i + D/2) by the position's angle", () => {
  // Hugging Face rotate_half: out = x·cos + rotate_half(x)·sin, rotate_half(x) = [−x2, x1].
  const T = 3, D = 4, table = ropeTable(T, D, 10000);
  const x = new Float64Array(T * D);
  for (let t = 0; t < T; t++) x.set([1, 2, 3, 4], t * D);
  const out = new Float64Array(T * D);
  ropeForward(out, x, table, 1, T, 1, D);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < 2; i++) {
      const c = table[2 * (t * 2 + i)], s = table[2 * (t * 2 + i) + 1];
      const x1 = x[t * D + i], x2 = x[t * D + i + 2];
      const want = [x1 * c - x2 * s, x2 * c + x1 * s];
      const got = [out[t * D + i], out[t * D + i + 2]];
      if (Math.abs(got[0] - want[0]) > 1e-12 || Math.abs(got[1] - want[1]) > 1e-12) {
        throw new Error(`t=${t} i=${i}: got ${got} want ${want}`);
      }
    }
  }
  // Position 0 is the identity.
  for (let d = 0; d < D; d++) if (out[d] !== x[d]) throw new Error(`t=0 d=${d} changed`);
});
