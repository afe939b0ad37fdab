/**
 * The loss test of one peer's update (GAUNTLET.md "The loss test"): on θ_w, the loss on a
 * sample of the peer's assigned batches and on a sample of unassigned ones; then the update
 * applied alone (clipped to the window's median norm per tensor, as aggregation would, step
 * α·evalStep); the same two losses again. The gradient score is the relative drop on the
 * unassigned data (does the update help the model?); the assignment indicator says whether
 * the drop on the peer's own data beats it (the reference's test of whether it trained on what
 * it was given; src/gauntlet/assignment.ts is ours).
 *
 * @module
 */

import type { TensorEntry } from "../reference/sparseloco/compress_model.ts";
import { median } from "../optim/sparseloco/aggregate.ts";
import { applyAggregate } from "../optim/sparseloco/model_round.ts";
import { type CompressedTensor, selectedValues } from "../reference/sparseloco/compress.ts";

/** Token batches of one loss measurement. */
export interface Batch {
  inputs: Uint32Array;
  targets: Uint32Array;
}

/** Losses of a model on batches: forward only, on the validator's backend. */
export interface LossProbe {
  /** Mean loss over the batches. */
  loss(params: Float32Array, batches: readonly Batch[]): Promise<number>;
  /** Mean loss of every sequence of the batches, batch by batch (the assignment test's). */
  sequenceLosses(params: Float32Array, batches: readonly Batch[]): Promise<number[]>;
}

/** The outcome of one loss test. */
export interface LossCheckResult {
  /** Relative loss drop on unassigned data: (before − after) / before. */
  gradScore: number;
  /** Relative loss drop on the peer's assigned data. */
  ownDrop: number;
  /**
   * The reference's indicator: +1 when `ownDrop` beats `gradScore`, else −1 (a coin flip on
   * the tiny model; the assignment test of src/gauntlet/assignment.ts replaces it where it runs).
   */
  indicator: 1 | -1;
}

/** ‖v‖₂ of every tensor of an update. */
export function tensorNorms(update: readonly CompressedTensor[]): number[] {
  return update.map((t) => {
    const v = selectedValues(t);
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * v[i];
    return Math.sqrt(s);
  });
}

/**
 * `update` with every tensor scaled to the norm `target[t]` (a zero tensor stays zero): the
 * loss test then compares directions at one common step, so neither a large nor a small norm
 * buys a better or a worse score. `norms` are the update's own ({@linkcode tensorNorms}).
 */
export function scaledToNorms(
  update: readonly CompressedTensor[],
  norms: readonly number[],
  target: readonly number[],
): CompressedTensor[] {
  return update.map((t, i) => {
    const f = norms[i] > 0 ? target[i] / norms[i] : 0;
    return t.table !== undefined
      ? { ...t, table: t.table.map((x) => x * f) }
      : { ...t, values: t.values.map((x) => x * f) };
  });
}

/** Per-tensor median of the candidates' norms: the clip every loss test uses. */
export function medianNorms(norms: readonly (readonly number[])[]): number[] {
  if (norms.length === 0) return [];
  return norms[0].map((_, t) => median(norms.map((n) => n[t])));
}

/** Runs the loss check with outer step `step`; `theta` is not modified. */
export async function lossCheck(
  probe: LossProbe,
  theta: Float32Array,
  layout: readonly TensorEntry[],
  update: readonly CompressedTensor[],
  clipNorms: readonly number[],
  step: number,
  assigned: readonly Batch[],
  unassigned: readonly Batch[],
): Promise<LossCheckResult> {
  const own0 = await probe.loss(theta, assigned);
  const rand0 = await probe.loss(theta, unassigned);
  const moved = movedBy(theta, layout, update, clipNorms, step);
  const own1 = await probe.loss(moved, assigned);
  const rand1 = await probe.loss(moved, unassigned);
  return lossCheckResult(own0, own1, rand0, rand1);
}

/** A copy of θ moved by `update` alone, clipped to `clipNorms` at outer step `step` (as aggregation would). */
export function movedBy(
  theta: Float32Array,
  layout: readonly TensorEntry[],
  update: readonly CompressedTensor[],
  clipNorms: readonly number[],
  step: number,
): Float32Array {
  const moved = Float32Array.from(theta);
  applyAggregate(moved, layout, [{ peer: "candidate", tensors: update }], { alpha: step, clipNorms });
  return moved;
}

/** The relative drop from `before` to `after`: the gradient score on unassigned data. */
export function relativeDrop(before: number, after: number): number {
  return (before - after) / before;
}

/** The loss test's outcome from its four losses: own and unassigned data, before and after. */
export function lossCheckResult(own0: number, own1: number, rand0: number, rand1: number): LossCheckResult {
  const gradScore = relativeDrop(rand0, rand1);
  const ownDrop = relativeDrop(own0, own1);
  if (!Number.isFinite(gradScore) || !Number.isFinite(ownDrop)) {
    // A non-finite loss after the step is the update's doing: the worst score there is.
    return { gradScore: -Infinity, ownDrop: -Infinity, indicator: -1 };
  }
  return { gradScore, ownDrop, indicator: ownDrop > gradScore ? 1 : -1 };
}
