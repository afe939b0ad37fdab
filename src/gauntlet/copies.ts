/**
 * How alike two peers' updates of the same window are: the size-weighted overlap of their
 * selected index sets (GAUNTLET.md "copying"), and the cosine of their decoded values, which
 * also catches a copy whose values were re-noised (the indices then still overlap, and the
 * direction survives the noise). Dense tensors (every entry kept, e.g. norm weights) say
 * nothing about copying and are left out of the overlap.
 *
 * The copy thresholds are held against the likeness in excess of the window's honest baseline
 * ({@linkcode windowBaseline}, {@linkcode copyVerdict}): honest updates share what all data have
 * in common, most of all a few inner steps from θ₀ with zero error feedback, where top-k picks
 * the same entries (measured, bench/copy_likeness.ts: overlap up to 0.74 at npm start's batch 4,
 * 0.85 at batch 16), so a fixed overlap threshold banned honest peers. A copy overlaps its
 * victim fully, whatever the baseline.
 *
 * @module
 */

import type { GauntletSpec } from "../protocol/gauntlet_spec.ts";
import { type CompressedTensor, selectedValues } from "../reference/sparseloco/compress.ts";

/** Likeness of update `a` to update `b`. */
export interface Likeness {
  /** Shared selected entries / selected entries, weighted by tensor size, in [0, 1]. */
  overlap: number;
  /** Cosine of the two decoded updates over all entries, in [−1, 1] (0 when one is zero). */
  cosine: number;
}

/**
 * Compares two decoded updates of one layout (`a.length === b.length`, tensor i of each with
 * the same shape and tiling). Throws `RangeError` when they do not line up.
 */
export function likeness(a: readonly CompressedTensor[], b: readonly CompressedTensor[]): Likeness {
  if (a.length !== b.length) throw new RangeError(`likeness: ${a.length} tensors vs ${b.length}`);
  let shared = 0, weight = 0, dot = 0, na = 0, nb = 0;
  for (let t = 0; t < a.length; t++) {
    const x = a[t], y = b[t];
    if (
      x.shape.join("x") !== y.shape.join("x") || x.tileRows !== y.tileRows ||
      x.tileCols !== y.tileCols || x.k !== y.k || x.indices.length !== y.indices.length
    ) {
      throw new RangeError(`likeness: tensor ${t} differs in shape or tiling`);
    }
    const vx = selectedValues(x), vy = selectedValues(y);
    for (let i = 0; i < vx.length; i++) na += vx[i] * vx[i];
    for (let i = 0; i < vy.length; i++) nb += vy[i] * vy[i];
    // Both runs of a tile hold the same count of ascending tile-local indices: merge them.
    const run = Math.min(x.k, x.tileRows * x.tileCols);
    const dense = x.k >= x.tileRows * x.tileCols;
    let common = 0;
    for (let start = 0; start < x.indices.length; start += run) {
      const end = Math.min(start + run, x.indices.length);
      let i = start, j = start;
      while (i < end && j < end) {
        if (x.indices[i] === y.indices[j]) {
          dot += vx[i] * vy[j];
          common++;
          i++;
          j++;
        } else if (x.indices[i] < y.indices[j]) i++;
        else j++;
      }
    }
    if (!dense && x.indices.length > 0) {
      const numel = x.shape.reduce((p, d) => p * d, 1);
      shared += numel * (common / x.indices.length);
      weight += numel;
    }
  }
  return {
    overlap: weight > 0 ? shared / weight : 0,
    cosine: na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0,
  };
}

/** What the copy thresholds make of one likeness: nothing, halve, reset, or reset and ban. */
export type CopyVerdict = "none" | "halve" | "reset" | "ban";

/** The spec fields the copy rule reads. */
export type CopySpec = Pick<
  GauntletSpec,
  "copyHalve" | "copyReset" | "copyBan" | "copyCosine" | "copyBaseline"
>;

/**
 * The window's honest baseline of overlap and of cosine. `rows[u]` holds update u's likeness
 * to every update it is compared with; the baseline is the median over the updates of each
 * one's median likeness — not the median over pairs, which k hostile keys own a share
 * 1 − (1 − k/n)² of: three junk keys beside seven honest ones hold 24 of 45 pairs and could
 * pull a pair median to ~0, so that honest pairs look like copies. A minority of updates
 * cannot move this one (a copy is alike to its victim alone; junk alike to nobody). Never
 * below 0 and capped at `copyBaseline`, so that a majority of near-copies cannot lift it over
 * themselves. With fewer than 3 updates (two: their one pair would be its own baseline) it is
 * `copyBaseline` itself, above every honest baseline measured. `copyBaseline` 0: the fixed
 * thresholds.
 */
export function windowBaseline(rows: readonly (readonly Likeness[])[], spec: CopySpec): Likeness {
  const prior = spec.copyBaseline;
  const median = (xs: number[]) => {
    const s = xs.sort((a, b) => a - b), m = s.length >> 1;
    return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const filled = rows.filter((r) => r.length > 0);
  if (filled.length < 3) return { overlap: prior, cosine: prior };
  const at = (x: number) => Math.max(0, Math.min(prior, x));
  const of = (f: (l: Likeness) => number) => at(median(filled.map((r) => median(r.map(f)))));
  return { overlap: of((l) => l.overlap), cosine: of((l) => l.cosine) };
}

/**
 * The rows of {@linkcode windowBaseline} from the lower triangle of a window's likenesses
 * (`alike[j][i]` for i < j, as the copy check compares each update with every earlier one):
 * row u is u against every other update.
 */
export function triangleRows(alike: readonly (readonly Likeness[])[]): Likeness[][] {
  return alike.map((_, u) => [...alike[u], ...alike.slice(u + 1).map((r) => r[u])]);
}

/** How far `l` lies above `base`, as a share of the headroom left: (x − m) / (1 − m). */
export function excess(l: Likeness, base: Likeness): Likeness {
  const over = (x: number, m: number) => m >= 1 ? (x >= 1 ? 1 : 0) : (x - m) / (1 - m);
  return { overlap: over(l.overlap, base.overlap), cosine: over(l.cosine, base.cosine) };
}

/** The thresholds of the copy rule on the likeness in excess of the window's baseline. */
export function copyVerdict(l: Likeness, base: Likeness, spec: CopySpec): CopyVerdict {
  const e = excess(l, base);
  if (e.overlap >= spec.copyBan || e.cosine >= spec.copyCosine) return "ban";
  if (e.overlap >= spec.copyReset) return "reset";
  if (e.overlap >= spec.copyHalve) return "halve";
  return "none";
}

/** Severity of `l`'s verdict, 0 (none) to 3 (ban), to find the earlier update it is most alike to. */
export function copyRank(l: Likeness, base: Likeness, spec: CopySpec): number {
  return ["none", "halve", "reset", "ban"].indexOf(copyVerdict(l, base, spec));
}
