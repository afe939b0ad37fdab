import { swigluBackward, swigluForward } from "../../src/kernels/swiglu.ts";
import * as ref from "../../src/reference/swiglu.ts";
import { Rng } from "../../src/util/rng.ts";
import { compare, type KernelCase, upload } from "./check.ts";

const SIZES = [1, 1000, 70001];

/** SwiGLU forward and backward on awkward lengths, gates wide enough to saturate σ. */
export const swigluCases: KernelCase[] = SIZES.map((n) => ({
  kernel: "swiglu",
  shape: `n=${n}`,
  async run(rt) {
    const shape = `n=${n}`, rng = new Rng(n + 17);
    const gate = rng.normals(n, 4), up = rng.normals(n), dout = rng.normals(n);
    // Saturated gates: e^−g overflows for g = −100 and must give 0, not NaN.
    if (n > 2) [gate[0], gate[1]] = [-100, 100];
    const tGate = upload(rt, gate, "gate"),
      tUp = upload(rt, up, "up"),
      tDout = upload(rt, dout, "dout");
    // Garbage in the outputs: the kernels write (=), they must not accumulate.
    const tOut = upload(rt, rng.normals(n), "out");
    const tDgate = upload(rt, rng.normals(n), "dgate"), tDup = upload(rt, rng.normals(n), "dup");
    swigluForward(rt, tOut, tGate, tUp, n);
    swigluBackward(rt, tDgate, tDup, tDout, tGate, tUp, n);

    const out = new Float32Array(n), dgate = new Float32Array(n), dup = new Float32Array(n);
    ref.swigluForward(out, gate, up, n);
    ref.swigluBackward(dgate, dup, dout, gate, up, n);
    // A few float32 roundings plus exp's error (a few ulp, more for large |g| on some GPUs):
    // relative, plus a floor for dgate where 1 + g·(1 − σ) cancels near g ≈ −1.28.
    const results = [
      compare("swiglu.forward", shape, "out", await rt.read(tOut), out, 2e-7, 2e-6),
      compare("swiglu.backward", shape, "dgate", await rt.read(tDgate), dgate, 2e-7, 2e-6),
      compare("swiglu.backward", shape, "dup", await rt.read(tDup), dup, 2e-7, 2e-6),
    ];
    for (const t of [tGate, tUp, tDout, tOut, tDgate, tDup]) rt.dispose(t);
    return results;
  },
}));
