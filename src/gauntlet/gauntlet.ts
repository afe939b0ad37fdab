/**
 * One window of the validator's judgement (GAUNTLET.md), from the updates that arrived in time
 * to the contributors of the round record and the credit table: copy checks in arrival order,
 * replay checks against the previous window's updates (a stale update), a sample within the
 * evaluation budget, a loss check per sampled update, ratings and penalties in the
 * {@linkcode PeerBook}, then selection. The assignment test of the helpful updates is returned
 * as a job to run after the record ({@linkcode AssignmentJob}): it costs (1 + refs) ·
 * assignBatches + 2 · assignBatches forward passes per update, too slow for the record's path. Runtime-neutral: the loss comes from
 * an injected {@linkcode LossProbe} (the validator's backend), the batches from the caller.
 *
 * @module
 */

import type { TensorEntry } from "../reference/sparseloco/compress_model.ts";
import type { CompressedTensor } from "../reference/sparseloco/compress.ts";
import { assignmentTest } from "./assignment.ts";
import { copyRank, copyVerdict, likeness, windowBaseline } from "./copies.ts";
import { type Credit, creditTable } from "../protocol/credit.ts";
import type { GauntletSpec } from "../protocol/gauntlet_spec.ts";
import {
  type Batch,
  lossCheck,
  type LossCheckResult,
  type LossProbe,
  medianNorms,
  scaledToNorms,
  tensorNorms,
} from "./loss_check.ts";
import type { Outcome, PeerBook } from "./peer_book.ts";
import { type Candidate, leftOut, type LeftOut, sampleForEvaluation, selectContributors } from "./select.ts";

/** An update that arrived in time: decoded, or why it could not be. */
export interface Submission extends Candidate {
  /** The decoded tensors (layout order), or undefined when `problem` says why not. */
  tensors?: readonly CompressedTensor[];
  /** Why the update is malformed (fetch failed, wrong size, did not decode). */
  problem?: string;
}

/** What the judgement of one window needs besides the submissions. */
export interface JudgeContext {
  /** θ_w; the returned assignment job reads it too, so it must not be changed in place before. */
  theta: Float32Array;
  layout: readonly TensorEntry[];
  /** The run's outer step α. */
  alpha: number;
  /** Most contributors of a round. */
  cap: number;
  probe: LossProbe;
  /**
   * A sample of `address`'s assigned batches of the window (`assignBatches` of them; the loss
   * check uses the first `evalBatches`).
   */
  assigned(address: string): readonly Batch[];
  /** A sample of data assigned to nobody this window (the loss check uses the first `evalBatches`). */
  unassigned: readonly Batch[];
  /** The validator's seed for sampling (the run's data seed). */
  seed: number;
  /** The previous window's well-formed updates: a replay of one is a stale update. */
  previous?: readonly { address: string; tensors: readonly CompressedTensor[] }[];
  /** The wallet a session key speaks for (credit goes to it); the key itself when absent. */
  ownerOf?: (address: string) => string;
  /** Span mode (genesis `data.span`): B, for the assignment test's z (`spanZ`). */
  spanBatch?: number;
}

/** The window's verdict, for the round record and the live view. */
export interface Judgement {
  /** Contributors, best first. */
  selected: string[];
  reserves: string[];
  /** Why each other submitter was left out. */
  leftOut: Map<string, LeftOut>;
  /** The loss check of each evaluated update. */
  checks: Map<string, LossCheckResult>;
  /** Final score of every submitter after this window. */
  scores: Map<string, number>;
  /** Credit of the window, from the selected contributors' ranking. */
  credit: Credit[];
  /** Milliseconds of loss checks, per evaluated update (mean). */
  evalMs: number;
  /** The window's assignment test, not run yet: its z values go in with `PeerBook.assigned`. */
  assignment: AssignmentJob;
}

/**
 * Window `window`'s assignment test (src/gauntlet/assignment.ts) of the updates that passed,
 * against θ_window: the z of each tested address. `pause` runs before every forward pass (to
 * yield to the event loop, or throw to drop the job).
 */
export interface AssignmentJob {
  window: number;
  /** Updates the test covers (fewer than two: no test). */
  tested: number;
  run(pause?: () => Promise<void>): Promise<Map<string, number>>;
}

/** Judges window `w` and updates `book`. */
export async function judgeWindow(
  w: number,
  submissions: readonly Submission[],
  book: PeerBook,
  spec: GauntletSpec,
  ctx: JudgeContext,
): Promise<Judgement> {
  book.beginWindow();
  const byArrival = [...submissions].sort((a, b) => a.arrival - b.arrival || (a.address < b.address ? -1 : 1));
  // A peer left out for its assignment test is still judged: its mean z moves on, so one that
  // trains on its own data again (or an honest one after an unlucky run) comes back.
  const judged = (address: string) => {
    const x = book.exclusion(address, w);
    return x === null || x.code === "not-own-data";
  };
  const wellFormed = byArrival.filter((s) => s.tensors !== undefined && judged(s.address));
  // Copies: each update against every earlier one; the later uploader carries the verdict of
  // the earlier update it is most alike to. The thresholds hold the likeness in excess of the
  // window's honest baseline (src/gauntlet/copies.ts): honest updates of few inner steps from
  // θ₀ share their common component (top-k picks the same entries), so their overlap alone
  // reached the ban threshold.
  const copiers = new Set<string>();
  const alike = wellFormed.map((s, j) =>
    wellFormed.slice(0, j).map((p) => likeness(s.tensors!, p.tensors!))
  );
  const base = windowBaseline(alike.flat(), spec);
  for (let j = 1; j < wellFormed.length; j++) {
    let worst = -1;
    for (let i = 0; i < j; i++) {
      if (copiers.has(wellFormed[i].address)) continue;
      const rank = copyRank(alike[j][i], base, spec);
      if (worst < 0 || rank > copyRank(alike[j][worst], base, spec)) worst = i;
    }
    if (worst < 0) continue;
    const l = alike[j][worst];
    const of = wellFormed[worst].address;
    if (book.copied(wellFormed[j].address, of, l.overlap, l.cosine, w, base) !== null) {
      copiers.add(wellFormed[j].address);
    }
  }
  // Stale: an older window's update (its own or another's) re-sent under this window's header
  // still helps a little, so the loss test would pass it; it shares its indices and direction
  // with the update the validator saw a window ago. Honest error feedback moves on: what was
  // sent is taken out of the buffer, so consecutive honest updates overlap far less. Judged
  // against the baseline of every (this window, window before) pair, as copies are.
  const fresh = wellFormed.filter((s) => !copiers.has(s.address));
  const previous = ctx.previous ?? [];
  const cross = fresh.map((s) => previous.map((p) => likeness(s.tensors!, p.tensors)));
  const staleBase = windowBaseline(cross.flat(), spec);
  fresh.forEach((s, j) => {
    const i = cross[j].findIndex((l) => copyVerdict(l, staleBase, spec) === "ban");
    if (i < 0) return;
    const l = cross[j][i];
    book.replayed(s.address, previous[i].address, l.overlap, l.cosine, w, staleBase);
    copiers.add(s.address);
  });
  // The clip of every loss check is the median over all well-formed updates, as aggregation's.
  const norms = new Map(wellFormed.map((s) => [s.address, tensorNorms(s.tensors!)]));
  const clip = medianNorms([...norms.values()]);
  const oversized = new Map<string, string>();
  for (const [address, n] of norms) {
    const worst = Math.max(...n.map((x, t) => clip[t] > 0 ? x / clip[t] : x > 0 ? Infinity : 0));
    if (worst > spec.maxNormRatio) oversized.set(address, `norm ${worst.toFixed(0)}× the window's median`);
  }
  const eligible = wellFormed.filter((s) => judged(s.address) && !oversized.has(s.address));
  const sampled = new Set(sampleForEvaluation(eligible, book, w, spec, ctx.seed));
  // Every update is tested at a common norm, so the score is the direction's, not the size's:
  // the window's median, and where the norms are spread (a hostile half can move the median
  // to where every step overshoots) also their lower median; the better result counts.
  const lower = clip.map((_, t) => {
    const xs = eligible.map((s) => norms.get(s.address)![t]).filter((x) => x > 0).sort((a, b) => a - b);
    return xs.length === 0 ? 0 : xs[(xs.length - 1) >> 1];
  });
  const targets = clip.some((c, t) => c > 2 * lower[t]) ? [clip, lower] : [clip];
  const checks = new Map<string, LossCheckResult>();
  // θ_w's losses on a batch list are the same for every update and target: computed once
  // (the unassigned ones once a window), which saves most of the record's forward passes.
  const before = new WeakMap<readonly Batch[], Promise<number>>();
  const probe: LossProbe = {
    loss(params, batches) {
      if (params !== ctx.theta) return ctx.probe.loss(params, batches);
      let l = before.get(batches);
      if (l === undefined) before.set(batches, l = ctx.probe.loss(params, batches));
      return l;
    },
    sequenceLosses: (params, batches) => ctx.probe.sequenceLosses(params, batches),
  };
  const unassigned = ctx.unassigned.slice(0, spec.evalBatches);
  const t0 = performance.now();
  for (const s of eligible) {
    if (!sampled.has(s.address)) continue;
    let best: LossCheckResult | undefined;
    const assigned = ctx.assigned(s.address).slice(0, spec.evalBatches);
    for (const target of targets) {
      const c = await lossCheck(
        probe,
        ctx.theta,
        ctx.layout,
        scaledToNorms(s.tensors!, norms.get(s.address)!, target),
        target,
        ctx.alpha * spec.evalStep,
        assigned,
        unassigned,
      );
      if (best === undefined || c.gradScore > best.gradScore) best = c;
    }
    checks.set(s.address, best!);
  }
  const evalMs = checks.size > 0 ? (performance.now() - t0) / checks.size : 0;
  // The median is the attackers' once they are half the window: three keys sending an honest
  // direction at 100× norm beside three honest peers moved it, passed the check above and won
  // every selection (the loss went up 767% in 6 windows). The helpful updates (those that pass
  // the loss test at the common norm) are judged by their own lower median instead: a
  // direction that helps, sent 10× larger or smaller than half of the helpful ones, is
  // refused. At exactly half the lower median is an honest norm whichever side is hostile by
  // size; a hostile half sending helpful directions at a tenth of the norm could still push the
  // honest half out (a stall, not a poisoning, and it costs them real training).
  const bestHelp = Math.max(0, ...[...checks.values()].map((c) => c.gradScore).filter(Number.isFinite));
  const helpful = [...checks].filter(([, c]) => c.gradScore > 0 && c.gradScore >= spec.passRatio * bestHelp);
  if (helpful.length > 0) {
    const ref = clip.map((_, t) => {
      const xs = helpful.map(([a]) => norms.get(a)![t]).sort((x, y) => x - y);
      return xs[(xs.length - 1) >> 1];
    });
    for (const [address, c] of checks) {
      const n = norms.get(address)!;
      const ratios = n.map((x, t) => ref[t] > 0 ? x / ref[t] : x > 0 ? Infinity : 0);
      const big = Math.max(...ratios);
      if (big > spec.maxNormRatio) {
        oversized.set(address, `norm ${big.toFixed(0)}× the helpful updates' lower median`);
      } else if (c.gradScore > 0 && big < 1 / spec.maxNormRatio) {
        // A helpful direction sent at a sliver of the norm: a free-rider's, or a drag on the
        // reference. (An all-zero update helps nothing and is left out as "no gain".)
        oversized.set(address, `norm ${big.toExponential(1)}× the helpful updates' lower median`);
      }
    }
    for (const address of oversized.keys()) checks.delete(address);
  }
  // The assignment test, among the updates that pass (the others are out anyway, and a
  // hostile direction would be a poor reference), at the window's common norm.
  const best = Math.max(0, ...[...checks.values()].map((c) => c.gradScore).filter(Number.isFinite));
  const passing = eligible.filter((s) => {
    const c = checks.get(s.address);
    return c !== undefined && c.gradScore > 0 && c.gradScore >= spec.passRatio * best;
  }).sort((a, b) => (a.address < b.address ? -1 : 1));
  // At most `assignCap` keys a window (probation first, then the longest untested): PeerBook.
  const picked = new Set(book.assignmentPick(passing.map((s) => s.address), w));
  const tested = passing.filter((s) => picked.has(s.address)).map((s) => ({
    address: s.address,
    tensors: scaledToNorms(s.tensors!, norms.get(s.address)!, clip),
    assigned: ctx.assigned(s.address),
  }));
  // Under the burden of proof a lone update is tested too (unpaired), or it could never land.
  const alone = spec.assignPassZ > 0;
  const assignment: AssignmentJob = {
    window: w,
    tested: tested.length < 2 && !alone ? 0 : tested.length,
    run: (pause) =>
      assignmentTest({
        probe: ctx.probe,
        theta: ctx.theta,
        layout: ctx.layout,
        candidates: tested,
        clipNorms: clip,
        step: ctx.alpha * spec.evalStep,
        refs: spec.assignRefs,
        unassigned: ctx.unassigned,
        pause,
        alone,
        spanBatch: ctx.spanBatch,
      }),
  };
  // Past the cap no indicator either: the window's test is the indicator, and it skipped them.
  const deferred = new Set(tested.length >= 2 || alone ? passing.map((s) => s.address) : []);
  const outcomes = new Map<string, Outcome>();
  for (const s of byArrival) {
    const c = checks.get(s.address);
    const problem = s.problem ?? oversized.get(s.address);
    outcomes.set(
      s.address,
      problem !== undefined
        ? { kind: "malformed", why: problem }
        : c !== undefined
        // A tested update's indicator is its z's, once the job has run (PeerBook.assigned).
        ? { kind: "evaluated", gradScore: c.gradScore, indicator: deferred.has(s.address) ? null : c.indicator }
        : { kind: "skipped" },
    );
  }
  book.closeWindow(w, outcomes);
  const selection = selectContributors(byArrival, checks, book, w, ctx.cap, spec);
  for (const s of byArrival) {
    const problem = s.problem ?? oversized.get(s.address);
    if (problem !== undefined) selection.leftOut.set(s.address, leftOut("refused", `refused: ${problem}`));
  }
  const scores = new Map(byArrival.map((s) => [s.address, book.score(s.address, w)]));
  return {
    ...selection,
    checks,
    scores,
    credit: creditTable(selection.selected, spec, ctx.ownerOf),
    evalMs,
    assignment,
  };
}
