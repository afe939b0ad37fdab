/**
 * Finite-difference checks for reference backward passes, in float64.
 *
 * Pattern: pick a random cotangent R for the output, let L(x) = Σ forward(x)·R; the reference
 * backward fed with dout = R must give dL/dx, which central differences estimate.
 */
import { Rng } from "../src/util/rng.ts";

/** Result of one gradient check: the worst sampled element. */
export interface GradCheck {
  ok: boolean;
  worst: { index: number; analytic: number; numeric: number; err: number; tol: number };
  checked: number;
}

/**
 * Compares `analytic` (dL/dx) with central differences of `loss` over `x`, perturbing x in place
 * (restored afterwards). Checks every element, or `samples` seeded random ones when x is large.
 */
export function checkGradient(
  x: Float64Array,
  analytic: ArrayLike<number>,
  loss: () => number,
  opts: { eps?: number; atol?: number; rtol?: number; samples?: number; seed?: number } = {},
): GradCheck {
  const { eps = 1e-5, atol = 1e-6, rtol = 1e-4, samples = 64, seed = 1 } = opts;
  const rng = new Rng(seed);
  const idx = x.length <= samples
    ? Array.from({ length: x.length }, (_, i) => i)
    : Array.from({ length: samples }, () => rng.int(x.length));
  let ok = true;
  let worst = { index: -1, analytic: 0, numeric: 0, err: 0, tol: 1 };
  let worstRatio = -1;
  for (const i of idx) {
    const x0 = x[i];
    x[i] = x0 + eps;
    const lp = loss();
    x[i] = x0 - eps;
    const lm = loss();
    x[i] = x0;
    const numeric = (lp - lm) / (2 * eps);
    const err = Math.abs(analytic[i] - numeric);
    const tol = atol + rtol * Math.abs(numeric);
    if (!(err <= tol)) ok = false;
    const ratio = Number.isFinite(err) ? err / tol : Infinity;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = { index: i, analytic: analytic[i], numeric, err, tol };
    }
  }
  return { ok, worst, checked: idx.length };
}

/** Σ a·b in float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Seeded float64 normals. */
export function normals64(rng: Rng, n: number, std = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return out;
}

/** Throws with the worst element if a check failed. */
export function assertGrad(what: string, r: GradCheck): void {
  if (r.checked === 0) throw new Error(`${what}: no element checked`);
  if (!r.ok) {
    const w = r.worst;
    throw new Error(
      `${what}: gradient [${w.index}] analytic ${w.analytic} vs finite difference ${w.numeric} ` +
        `(err ${w.err.toExponential(2)} > tol ${w.tol.toExponential(2)})`,
    );
  }
}
