import { gradClip } from "../../src/kernels/grad_clip.ts";
import * as ref from "../../src/reference/grad_clip.ts";
import { Rng } from "../../src/util/rng.ts";
import { compare, type KernelCase, upload } from "./check.ts";

// Σ g² of positive terms, float32 per-thread chains then pairwise trees: relative error a few
// 1e-7 at most; the norm's is half that. scale = maxNorm/(norm + 1e-6) inherits it.
const RTOL = 1e-5;

// (n, std, maxNorm): norms ≈ std·sqrt(n); some cases clip, some keep scale exactly 1.
const CASES: [number, number, number][] = [
  [1, 1, 1], // |g| ≈ 1: either side of the threshold depending on the draw
  [1000, 0.01, 1], // norm ≈ 0.32: no clipping, scale must be exactly 1
  [70001, 1, 1], // norm ≈ 265: clips
  [300000, 1e-3, 0.25], // norm ≈ 0.55: clips
];

/** Global gradient norm and clip scale on awkward lengths; a second run must be bit-identical. */
export const gradClipCases: KernelCase[] = CASES.map(([n, std, maxNorm]) => ({
  kernel: "grad_clip",
  shape: `N=${n} maxNorm=${maxNorm}`,
  async run(rt) {
    const shape = `N=${n} maxNorm=${maxNorm}`;
    const g = new Rng(500 + n).normals(n, std);
    const tg = upload(rt, g, "grads"), out = rt.tensor(2, "f32", "out");
    gradClip(rt, out, tg, n, maxNorm);
    const got = await rt.read(out);
    gradClip(rt, out, tg, n, maxNorm);
    const again = await rt.read(out);
    const want = new Float32Array(2);
    ref.gradClip(want, g, n, maxNorm);
    const results = [
      compare("grad_clip", shape, "scale", got.subarray(0, 1), want.subarray(0, 1), 0, RTOL),
      compare("grad_clip", shape, "norm", got.subarray(1), want.subarray(1), 0, RTOL),
      // MIN_VALUE: any difference between two float32 values fails, an exact match reports err 0.
      compare("grad_clip", shape, "rerun bits", again, got, Number.MIN_VALUE, 0),
    ];
    for (const t of [tg, out]) rt.dispose(t);
    return results;
  },
}));
