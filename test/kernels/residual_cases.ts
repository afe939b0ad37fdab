import { accumulate, residualForward } from "../../src/kernels/residual.ts";
import * as ref from "../../src/reference/residual.ts";
import { Rng } from "../../src/util/rng.ts";
import { compare, type KernelCase, upload } from "./check.ts";

const SIZES = [1, 255, 256, 1000, 70000];

/** Residual add forward and gradient accumulation on awkward lengths. */
export const residualCases: KernelCase[] = SIZES.map((n) => ({
  kernel: "residual",
  shape: `N=${n}`,
  async run(rt) {
    const rng = new Rng(n);
    const a = rng.normals(n), b = rng.normals(n);
    const ta = upload(rt, a, "a"), tb = upload(rt, b, "b"), out = rt.tensor(n);
    residualForward(rt, out, ta, tb, n);
    const want = new Float32Array(n);
    ref.residualForward(want, a, b, n);
    accumulate(rt, tb, ta, n, 0.5);
    ref.accumulate(b, a, n, 0.5);
    const results = [
      compare("residual.add", `N=${n}`, "out", await rt.read(out), want),
      compare("residual.accumulate", `N=${n}`, "dst", await rt.read(tb), b),
    ];
    for (const t of [ta, tb, out]) rt.dispose(t);
    return results;
  },
}));
