/** The inner learning-rate schedule of the reference run (SPARSELOCO.md). */

/** Linear warm-up over `warmup` steps, then cosine decay to `minRatio`·base at step `total`. */
export interface LrSchedule {
  base: number;
  warmup: number;
  total: number;
  minRatio: number;
}

/** The reference defaults besides the base rate: warm-up 1,500 steps, decay to 0.1×. */
export const LR_DEFAULTS: Omit<LrSchedule, "base" | "total"> = { warmup: 1500, minRatio: 0.1 };

/** Learning rate at 0-based step `step`. */
export function lrAt(step: number, s: LrSchedule): number {
  if (step < s.warmup) return (s.base * (step + 1)) / s.warmup;
  const span = Math.max(1, s.total - s.warmup);
  const progress = Math.min(1, (step - s.warmup) / span);
  const min = s.base * s.minRatio;
  return min + (s.base - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
