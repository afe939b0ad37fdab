import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import { adamw, type AdamWParams } from "../../src/kernels/adamw.ts";
import { gradClip } from "../../src/kernels/grad_clip.ts";
import * as ref from "../../src/reference/adamw.ts";
import * as refClip from "../../src/reference/grad_clip.ts";
import { Rng } from "../../src/util/rng.ts";
import { type CheckResult, compare, type KernelCase, upload } from "./check.ts";

const HP: Omit<AdamWParams, "step"> = {
  lr: 1e-2,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.1,
};
const STEPS = 3;

// The reference runs on float32 state too, so both sides round the same state each step and
// differ only by float32 rounding inside one update (a few ulps; FMA contraction on the GPU).
// m: its two terms can cancel, so the bound is absolute at the gradient's scale (≈ 1).
// v: a sum of non-negative terms, relative (≈ 8 ulps over 3 steps).  params: up to ~1.5 ulp of
// |p| per step (decay and subtraction rounded apart on the GPU, once in the reference) → 4.5 ulps
// after 3 steps; the atol covers p ≈ 0, where the lr-sized update's own error dominates.
const TOL = {
  params: { atol: 1e-7, rtol: 6e-7 },
  m: { atol: 1e-7, rtol: 4e-7 },
  v: { atol: 1e-9, rtol: 1e-6 },
};

/** Runs STEPS AdamW steps on GPU and reference with clip[0] = clipScale; compares params, m, v. */
async function runSteps(
  rt: GpuRuntime,
  n: number,
  clipScale: number,
): Promise<CheckResult[]> {
  const shape = `N=${n} clip=${clipScale}`;
  const rng = new Rng(1000 + n);
  const p = rng.normals(n), m = new Float32Array(n), v = new Float32Array(n);
  const clip = new Float32Array([clipScale, 0]);
  const tp = upload(rt, p, "params"), tm = rt.tensor(n, "f32", "m"), tv = rt.tensor(n, "f32", "v");
  const tc = upload(rt, clip, "clip"), tg = rt.tensor(n, "f32", "grads");
  for (let step = 1; step <= STEPS; step++) {
    // Gradients of varied magnitude, some near zero: exercises eps and the v ≈ 0 corner.
    const g = rng.normals(n, step === 2 ? 1e-3 : 1);
    if (n > 1) g[0] = 0;
    rt.write(tg, g);
    adamw(rt, tp, tg, tm, tv, tc, n, { ...HP, step });
    ref.adamw(p, g, m, v, clip, n, { ...HP, step });
  }
  const results = [
    compare("adamw", shape, "params", await rt.read(tp), p, TOL.params.atol, TOL.params.rtol),
    compare("adamw", shape, "m", await rt.read(tm), m, TOL.m.atol, TOL.m.rtol),
    compare("adamw", shape, "v", await rt.read(tv), v, TOL.v.atol, TOL.v.rtol),
  ];
  for (const t of [tp, tm, tv, tc, tg]) rt.dispose(t);
  return results;
}

/** gradClip's on-device output feeding adamw directly, as the trainer uses them. */
async function chained(rt: GpuRuntime, n: number): Promise<CheckResult[]> {
  const shape = `N=${n} clip from gradClip`;
  const rng = new Rng(77);
  const p = rng.normals(n), g = rng.normals(n), m = new Float32Array(n), v = new Float32Array(n);
  const tp = upload(rt, p, "params"), tg = upload(rt, g, "grads");
  const tm = rt.tensor(n, "f32", "m"),
    tv = rt.tensor(n, "f32", "v"),
    tc = rt.tensor(2, "f32", "clip");
  gradClip(rt, tc, tg, n, 1); // norm ≈ sqrt(n) ≫ 1: scale ≈ 1/sqrt(n)
  adamw(rt, tp, tg, tm, tv, tc, n, { ...HP, step: 1 });
  const clip = new Float32Array(2);
  refClip.gradClip(clip, g, n, 1);
  ref.adamw(p, g, m, v, clip, n, { ...HP, step: 1 });
  const scale = clip[0];
  const results = [
    compare("adamw", shape, "params", await rt.read(tp), p, TOL.params.atol, TOL.params.rtol),
    // The GPU scale differs from the reference's by ~1e-6 relative (float32 norm): m, v follow.
    compare("adamw", shape, "m", await rt.read(tm), m, 1e-7 * scale, 2e-6),
    compare("adamw", shape, "v", await rt.read(tv), v, 1e-9 * scale * scale, 4e-6),
  ];
  for (const t of [tp, tg, tm, tv, tc]) rt.dispose(t);
  return results;
}

/** AdamW over several steps on awkward lengths, with clip scales 1 and 0.3, and chained after gradClip. */
export const adamwCases: KernelCase[] = [
  ...[1, 255, 70001].flatMap((n) =>
    [1, 0.3].map((c): KernelCase => ({
      kernel: "adamw",
      shape: `N=${n} clip=${c}`,
      run: (rt) => runSteps(rt, n, c),
    }))
  ),
  { kernel: "adamw", shape: "N=1000 clip from gradClip", run: (rt) => chained(rt, 1000) },
];
