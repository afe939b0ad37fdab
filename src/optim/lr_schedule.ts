/**
 * The inner learning-rate schedule of the reference run (SPARSELOCO.md "Inner learning-rate
 * schedule"): linear warm-up, then cosine decay to a fraction of the base rate.
 */

/** Linear warm-up over `warmup` steps, then cosine decay to `minRatio`·base at step `total`. */
export interface LrSchedule {
  /** Peak learning rate, reached at the end of warm-up. */
  base: number;
  /** Warm-up length in steps (default 1,500); 0 starts at `base`. */
  warmup?: number;
  /** Step at which the decay reaches `minRatio`·base (counted from 0, warm-up included). */
  total: number;
  /** Final rate as a fraction of `base` (default 0.1). */
  minRatio?: number;
}

/** The reference defaults besides the base rate: warm-up 1,500 steps, decay to 0.1×. */
export const LR_DEFAULTS: Required<Omit<LrSchedule, "base" | "total">> = {
  warmup: 1500,
  minRatio: 0.1,
};

/**
 * Learning rate for the update at 0-based step `step` (the first update is step 0).
 * Warm-up: base·(step + 1)/warmup, so step 0 already moves and step warmup − 1 uses the full
 * base. Then base·(minRatio + (1 − minRatio)·(1 + cos(π·t))/2) with t = (step − warmup) /
 * (total − warmup), clamped to 1: base at step = warmup, minRatio·base from step = total on.
 * Pure: the same arguments give the same rate on every peer.
 */
export function lrAt(step: number, s: LrSchedule): number {
  const warmup = s.warmup ?? LR_DEFAULTS.warmup;
  const minRatio = s.minRatio ?? LR_DEFAULTS.minRatio;
  if (!Number.isFinite(step) || step < 0) throw new Error(`lrAt: step must be ≥ 0, got ${step}`);
  if (!(warmup >= 0) || !(minRatio >= 0 && minRatio <= 1) || !Number.isFinite(s.total)) {
    throw new Error(`lrAt: bad schedule ${JSON.stringify(s)}`);
  }
  if (step < warmup) return (s.base * (step + 1)) / warmup;
  // A run shorter than its warm-up (total ≤ warmup) decays over one step rather than dividing by 0.
  const span = Math.max(1, s.total - warmup);
  const progress = Math.min(1, (step - warmup) / span);
  const min = s.base * minRatio;
  return min + (s.base - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
