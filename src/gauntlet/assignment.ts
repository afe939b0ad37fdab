/**
 * The assignment test: did a peer train on the batches it was assigned? The reference's test
 * (own-data drop beats unassigned drop, one sign per window) cannot tell on a small model: most
 * of an update is what all text has in common, so an update trained on other data helps a
 * peer's batches about as much as its own (tiny model from θ₀: 0.00101 against 0.00100). Two
 * pairings remove that common part and the sequences' own difficulty:
 *
 * - per sequence, the update's relative loss drop minus the median drop of `refs` other updates
 *   of the window on the same sequence: what this update gains there beyond the others;
 * - that margin on the peer's assigned sequences minus the same margin on unassigned ones, so an
 *   update that is merely better (or worse) everywhere gains nothing.
 *
 * The statistic is the difference of the mean margins over its standard error (Welch's z).
 * A peer that memorised a little of its own batches scores well above 0; one trained on other
 * data scores around 0 with unit spread (measured numbers: GauntletSpec `assignBatches`).
 *
 * @module
 */

import type { TensorEntry } from "../reference/sparseloco/compress_model.ts";
import type { CompressedTensor } from "../reference/sparseloco/compress.ts";
import { applyAggregate } from "../optim/sparseloco/model_round.ts";
import { median } from "../optim/sparseloco/aggregate.ts";
import type { Batch, LossProbe } from "./loss_check.ts";

/** One update of the test, scaled to the window's common norm. */
export interface AssignmentCandidate {
  address: string;
  tensors: readonly CompressedTensor[];
  /** Batches assigned to `address` in the window. */
  assigned: readonly Batch[];
}

/** What one assignment test runs on. */
export interface AssignmentInput {
  probe: LossProbe;
  /** θ_w, the model every update is applied to alone (not modified). */
  theta: Float32Array;
  layout: readonly TensorEntry[];
  candidates: readonly AssignmentCandidate[];
  /** The window's median norms: each update is clipped to them as in aggregation. */
  clipNorms: readonly number[];
  /** The step each update is applied with (α · evalStep). */
  step: number;
  /** References per candidate. */
  refs: number;
  unassigned: readonly Batch[];
  /** Awaited before every batch's forward pass. */
  pause?: () => Promise<void>;
  /** Test a lone candidate unpaired. */
  alone?: boolean;
  /**
   * Span mode (genesis `data.span`): the sequences per batch, B. A candidate's assigned
   * batches then share one span and each unassigned batch has its own, so the z is
   * {@linkcode spanZ}'s, which counts the spread between spans; absent: {@linkcode welchZ}.
   */
  spanBatch?: number;
}

/**
 * The z of every candidate, in the candidates' order; none when fewer than two (nothing to
 * pair with), unless `alone`: then a lone candidate's z is of its raw drops (weaker, but still
 * ≈ N(0, 1) for an update not trained on its batches). Candidate i is paired with the next
 * `refs` candidates (cyclically), so each update is measured on its own batches, on those of the peers it is a reference for, and on
 * `unassigned`: (1 + refs) · assigned + unassigned forward passes per update. `theta` is not
 * modified; a non-finite drop makes the z −∞, fewer than two sequences a side NaN. `pause` is
 * awaited before every batch's forward pass (one at a time: a probe runs one pass at once).
 */
export async function assignmentTest(input: AssignmentInput): Promise<Map<string, number>> {
  const m = await assignmentMargins(input), B = input.spanBatch;
  const z = (x: AssignmentMargins) =>
    B === undefined ? welchZ(x.own, x.unassigned) : spanZ(x.own, x.unassigned, B);
  return new Map([...m].map(([a, x]) => [a, z(x)]));
}

/** Per-sequence margins of one candidate: on its assigned sequences and on the unassigned ones. */
export interface AssignmentMargins {
  /** Per assigned sequence (batch by batch): own drop − median drop of the references. */
  own: number[];
  /** Per unassigned sequence: the same margin. */
  unassigned: number[];
}

/**
 * The paired margins {@linkcode assignmentTest}'s z is computed from, per candidate (none when
 * fewer than two): the raw material, so a calibration can test subsets of the batches.
 */
export async function assignmentMargins(
  input: AssignmentInput,
): Promise<Map<string, AssignmentMargins>> {
  const { probe, theta, layout, candidates, clipNorms, step, refs, unassigned } = input;
  const pause = input.pause ?? (() => Promise.resolve()), alone = input.alone ?? false;
  const n = candidates.length, z = new Map<string, AssignmentMargins>();
  if (n === 0 || (n === 1 && !alone)) return z;
  const r = Math.min(refs, n - 1);
  const refsOf = (i: number) => Array.from({ length: r }, (_, k) => (i + 1 + k) % n);
  // One batch per pause: a whole list at once held the validator's event loop for up to a
  // second under load (payload fetches of the next window then missed its deadline).
  const losses = async (params: Float32Array, batches: readonly Batch[]) => {
    const out: number[] = [];
    for (const b of batches) {
      await pause();
      out.push(...await probe.sequenceLosses(params, [b]));
    }
    return out;
  };
  const base: number[][] = [];
  for (const c of candidates) base.push(await losses(theta, c.assigned));
  const baseU = await losses(theta, unassigned);
  const drops = (before: number[], after: number[]) =>
    after.map((x, k) => (before[k] - x) / before[k]);
  // own[j][i]: update j's drops on candidate i's sequences (j = i or j a reference of i).
  const own: Map<number, number[]>[] = candidates.map(() => new Map());
  const onU: number[][] = [];
  for (let j = 0; j < n; j++) {
    const moved = Float32Array.from(theta);
    applyAggregate(
      moved,
      layout,
      [{ peer: candidates[j].address, tensors: candidates[j].tensors }],
      {
        alpha: step,
        clipNorms,
      },
    );
    onU.push(drops(baseU, await losses(moved, unassigned)));
    for (let i = 0; i < n; i++) {
      if (i !== j && !refsOf(i).includes(j)) continue;
      own[j].set(i, drops(base[i], await losses(moved, candidates[i].assigned)));
    }
  }
  for (let i = 0; i < n; i++) {
    const others = refsOf(i);
    const mine = own[i].get(i)!;
    // Alone (no reference): the raw drops, sequence difficulty and the common part unpaired.
    const ref = (xs: number[]) => (xs.length === 0 ? 0 : median(xs));
    const f = mine.map((d, k) => d - ref(others.map((j) => own[j].get(i)![k])));
    const e = onU[i].map((d, k) => d - ref(others.map((j) => onU[j][k])));
    z.set(candidates[i].address, { own: f, unassigned: e });
  }
  return z;
}

/**
 * (mean a − mean b) / standard error; NaN with fewer than two values a side (no test), −∞ when
 * a value is not finite, 0 without spread.
 */
export function welchZ(a: readonly number[], b: readonly number[]): number {
  if (a.length < 2 || b.length < 2) return NaN;
  if (![...a, ...b].every(Number.isFinite)) return -Infinity;
  const mean = (x: readonly number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const ma = mean(a), mb = mean(b);
  const va = a.reduce((s, v) => s + (v - ma) ** 2, 0) / (a.length - 1);
  const vb = b.reduce((s, v) => s + (v - mb) ** 2, 0) / (b.length - 1);
  const se = Math.sqrt(va / a.length + vb / b.length);
  return se > 0 ? (ma - mb) / se : 0;
}

/**
 * The z of span mode: the `own` sequences all come from one span (the candidate's), the
 * `unassigned` ones in batches of `batch`, each batch from another span. An update trained on
 * one span helps other spans unevenly (some text is closer to its own), so one span's mean
 * margin varies by more than its sequences' spread says: Welch's z of an update trained on
 * other data had sd 1.5–2.4 instead of 1 (bench/attack_assign.ts). Here the spread between
 * spans, σ_b² = max(0, var(unassigned batch means) − σ_w²/B), with σ_w² the pooled variance
 * within batches, enters the own side's variance:
 * z = (mean own − mean of the batch means) / √(σ_b² + σ_w²/n_own + var(batch means)/n_batches).
 * NaN with fewer than two unassigned batches or two own values, −∞ when a value is not
 * finite, 0 without spread.
 */
export function spanZ(
  own: readonly number[],
  unassigned: readonly number[],
  batch: number,
): number {
  const nb = Math.floor(unassigned.length / batch);
  if (own.length < 2 || nb < 2 || batch < 1) return NaN;
  if (![...own, ...unassigned].every(Number.isFinite)) return -Infinity;
  const mean = (x: readonly number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const batches = Array.from(
    { length: nb },
    (_, i) => unassigned.slice(i * batch, (i + 1) * batch),
  );
  const ownBatches = Array.from(
    { length: Math.ceil(own.length / batch) },
    (_, i) => own.slice(i * batch, (i + 1) * batch),
  );
  let ss = 0, df = 0;
  for (const b of [...ownBatches, ...batches]) {
    const m = mean(b);
    ss += b.reduce((s, v) => s + (v - m) ** 2, 0);
    df += b.length - 1;
  }
  const within = df > 0 ? ss / df : 0;
  const means = batches.map(mean), mu = mean(means);
  const vu = means.reduce((s, v) => s + (v - mu) ** 2, 0) / (nb - 1);
  const between = Math.max(0, vu - within / batch);
  const se = Math.sqrt(between + within / own.length + vu / nb);
  return se > 0 ? (mean(own) - mu) / se : 0;
}
