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
import { copyRank, copyVerdict, likeness, triangleRows, windowBaseline } from "./copies.ts";
import { type Credit, creditTable } from "../protocol/credit.ts";
import type { GauntletSpec } from "../protocol/gauntlet_spec.ts";
import {
  type Batch,
  type LossCheckResult,
  lossCheckResult,
  type LossProbe,
  medianNorms,
  movedBy,
  relativeDrop,
  scaledToNorms,
  tensorNorms,
} from "./loss_check.ts";
import type { Outcome, PeerBook } from "./peer_book.ts";
import {
  type Candidate,
  evaluationOrder,
  type LeftOut,
  leftOut,
  selectContributors,
} from "./select.ts";

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
  /**
   * How long the loss checks may take, from the judgement's start (ms; absent: no limit): an
   * update is evaluated only when its forward passes fit what is left at the probe's measured
   * cost per pass ({@linkcode scoringBudgetMs}).
   */
  budgetMs?: number;
  /** The clock of `budgetMs` (default `performance.now`). */
  now?: () => number;
}

/** An evaluated update's loss test: its gradient score, and its own-data drop where it was measured. */
export type Check = Pick<LossCheckResult, "gradScore"> & Partial<LossCheckResult>;

/**
 * Share of a window the loss checks of the window before may take: record w is needed where
 * window w + 1 ends (the boundary where delayed peers apply it; undelayed ones train w + 1
 * only once they have it), and scoring starts after w's grace period (10% of a window). The
 * rest is for the aggregate, signing and publishing (0.4–1.4 s at load 17, 2026-12-01) and for
 * the peers to fetch the payloads and aggregate before their boundary.
 */
export const SCORING_SHARE = 0.6;

/** The loss checks' time of a run with windows of `windowMs`: {@linkcode SCORING_SHARE} of one. */
export function scoringBudgetMs(windowMs: number): number {
  return SCORING_SHARE * windowMs;
}

/** An update is started when this many times its passes at the measured cost fit. */
const COST_MARGIN = 1.25;
/** Weight of the newest pass in the per-pass estimate (the machine's load moves it). */
const COST_WEIGHT = 0.3;
/** Milliseconds per forward pass each probe took, smoothed: the next window's first estimate. */
const passCost = new WeakMap<LossProbe, number>();

/** Times the probe's forward passes of one judgement against its budget. */
class ScoringClock {
  readonly #ctx: JudgeContext;
  readonly #now: () => number;
  readonly #t0: number;
  readonly #until: number;

  constructor(ctx: JudgeContext) {
    this.#ctx = ctx;
    this.#now = ctx.now ?? (() => performance.now());
    this.#t0 = this.#now();
    this.#until = ctx.budgetMs === undefined ? Infinity : this.#t0 + ctx.budgetMs;
  }

  /** Whether `passes` more forward passes fit (with no measurement yet: whether time is left). */
  fits(passes: number): boolean {
    if (this.#until === Infinity) return true;
    const est = passCost.get(this.#ctx.probe);
    return this.#now() + (est === undefined ? 0 : COST_MARGIN * passes * est) <= this.#until;
  }

  /** The probe's mean loss, with the time it took per batch folded into the estimate. */
  async loss(params: Float32Array, batches: readonly Batch[]): Promise<number> {
    const t = this.#now();
    const l = await this.#ctx.probe.loss(params, batches);
    const x = (this.#now() - t) / batches.length, est = passCost.get(this.#ctx.probe);
    passCost.set(
      this.#ctx.probe,
      est === undefined ? x : (1 - COST_WEIGHT) * est + COST_WEIGHT * x,
    );
    return l;
  }

  /** Milliseconds since the judgement started. */
  spent(): number {
    return this.#now() - this.#t0;
  }
}

/** The window's verdict, for the round record and the live view. */
export interface Judgement {
  /** Contributors, best first. */
  selected: string[];
  reserves: string[];
  /** Why each other submitter was left out. */
  leftOut: Map<string, LeftOut>;
  /** The loss check of each evaluated update (own-data drop only where the indicator is used). */
  checks: Map<string, Check>;
  /** Final score of every submitter after this window. */
  scores: Map<string, number>;
  /** Credit of the window, from the selected contributors' ranking. */
  credit: Credit[];
  /** Milliseconds of loss checks, per evaluated update (mean). */
  evalMs: number;
  /**
   * The sampled updates left unevaluated because the scoring time (`budgetMs`) ran out, in
   * the sample's order: "not evaluated", as a peer outside the budget's sample.
   */
  outOfTime: string[];
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
  const byArrival = [...submissions].sort((a, b) =>
    a.arrival - b.arrival || (a.address < b.address ? -1 : 1)
  );
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
  const base = windowBaseline(triangleRows(alike), spec);
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
  // against the baseline of each update's likeness to the window before, as copies are.
  const fresh = wellFormed.filter((s) => !copiers.has(s.address));
  const previous = ctx.previous ?? [];
  const cross = fresh.map((s) => previous.map((p) => likeness(s.tensors!, p.tensors)));
  const staleBase = windowBaseline(cross, spec);
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
    if (worst > spec.maxNormRatio) {
      oversized.set(address, `norm ${worst.toFixed(0)}× the window's median`);
    }
  }
  const eligible = wellFormed.filter((s) => judged(s.address) && !oversized.has(s.address));
  // Every update is tested at a common norm, so the score is the direction's, not the size's:
  // the window's median, and where the norms are spread (a hostile half can move the median
  // to where every step overshoots) also their lower median; the better result counts.
  const lower = clip.map((_, t) => {
    const xs = eligible.map((s) => norms.get(s.address)![t]).filter((x) => x > 0).sort((a, b) =>
      a - b
    );
    return xs.length === 0 ? 0 : xs[(xs.length - 1) >> 1];
  });
  const targets = clip.some((c, t) => c > 2 * lower[t]) ? [clip, lower] : [clip];
  const budget = new ScoringClock(ctx);
  // θ_w's losses on a batch list are the same for every update and target: computed once
  // (the unassigned ones once a window, a peer's assigned ones once per peer).
  const before = new WeakMap<readonly Batch[], Promise<number>>();
  const baseLoss = (batches: readonly Batch[]) => {
    let l = before.get(batches);
    if (l === undefined) before.set(batches, l = budget.loss(ctx.theta, batches));
    return l;
  };
  const unassigned = ctx.unassigned.slice(0, spec.evalBatches);
  const bySubmitter = new Map(eligible.map((s) => [s.address, s]));
  // The gradient score first, in the sample's order and as far as the time goes: the losses on
  // the peer's own batches only feed the assignment indicator, which the assignment test
  // replaces for every update it will test (the passing ones), so they are measured below for
  // the others alone — 2 of the 6 forward passes per update where the old code spent all 6
  // (one target: 2 + 6n passes a window became 2 + 2n + 4·(updates not tested); 8 honest peers
  // on the tiny model 50 → 18, measured 2026-12-01). The other results are
  // unchanged: the same batches, the same losses. (A step at the window's common norm that
  // made the loss non-finite on a tested peer's own batches alone, finite on unassigned data,
  // would no longer score −∞ here; the assignment test then measures those same batches.)
  const order = evaluationOrder(eligible, book, w, spec, ctx.seed).slice(0, spec.evalBudget);
  const checks = new Map<string, Check>();
  /** Each evaluated update's best step: the update at its target norm and its unassigned losses. */
  const moves = new Map<
    string,
    { update: CompressedTensor[]; target: readonly number[]; rand0: number; rand1: number }
  >();
  const outOfTime: string[] = [];
  for (const address of order) {
    const passes = targets.length * unassigned.length +
      (before.has(unassigned) ? 0 : unassigned.length);
    // The first update of a probe never measured is evaluated; each later one only if it fits.
    if (!budget.fits(passes)) {
      outOfTime.push(address);
      continue;
    }
    const s = bySubmitter.get(address)!;
    const rand0 = await baseLoss(unassigned);
    let best:
      | { update: CompressedTensor[]; target: number[]; rand1: number; gradScore: number }
      | undefined;
    for (const target of targets) {
      const update = scaledToNorms(s.tensors!, norms.get(address)!, target);
      const moved = movedBy(ctx.theta, ctx.layout, update, target, ctx.alpha * spec.evalStep);
      const rand1 = await budget.loss(moved, unassigned);
      const g = relativeDrop(rand0, rand1);
      const gradScore = Number.isFinite(g) ? g : -Infinity;
      if (best === undefined || gradScore > best.gradScore) {
        best = { update, target, rand1, gradScore };
      }
    }
    checks.set(address, { gradScore: best!.gradScore });
    moves.set(address, { update: best!.update, target: best!.target, rand0, rand1: best!.rand1 });
  }
  // The median is the attackers' once they are half the window: three keys sending an honest
  // direction at 100× norm beside three honest peers moved it, passed the check above and won
  // every selection (the loss went up 767% in 6 windows). The helpful updates (those that pass
  // the loss test at the common norm) are judged by their own lower median instead: a
  // direction that helps, sent 10× larger or smaller than half of the helpful ones, is
  // refused. At exactly half the lower median is an honest norm whichever side is hostile by
  // size; a hostile half sending helpful directions at a tenth of the norm could still push the
  // honest half out (a stall, not a poisoning, and it costs them real training).
  const bestHelp = Math.max(
    0,
    ...[...checks.values()].map((c) => c.gradScore).filter(Number.isFinite),
  );
  const helpful = [...checks].filter(([, c]) =>
    c.gradScore > 0 && c.gradScore >= spec.passRatio * bestHelp
  );
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
  // The own-data losses of the updates the assignment test does not cover: their indicator.
  for (const address of order) {
    const c = checks.get(address), m = moves.get(address);
    if (c === undefined || m === undefined || deferred.has(address)) continue;
    const assigned = ctx.assigned(address).slice(0, spec.evalBatches);
    if (!budget.fits(2 * assigned.length)) continue; // evaluated; its indicator stays where it was
    const own0 = await baseLoss(assigned);
    const moved = movedBy(ctx.theta, ctx.layout, m.update, m.target, ctx.alpha * spec.evalStep);
    const own1 = await budget.loss(moved, assigned);
    checks.set(address, lossCheckResult(own0, own1, m.rand0, m.rand1));
  }
  const evalMs = moves.size > 0 ? budget.spent() / moves.size : 0;
  const outcomes = new Map<string, Outcome>();
  for (const s of byArrival) {
    const c = checks.get(s.address);
    const problem = s.problem ?? oversized.get(s.address);
    outcomes.set(
      s.address,
      problem !== undefined ? { kind: "malformed", why: problem } : c !== undefined
        // A tested update's indicator is its z's, once the job has run (PeerBook.assigned).
        ? {
          kind: "evaluated",
          gradScore: c.gradScore,
          indicator: deferred.has(s.address) ? null : c.indicator ?? null,
        }
        : { kind: "skipped" },
    );
  }
  book.closeWindow(w, outcomes);
  const selection = selectContributors(byArrival, checks, book, w, ctx.cap, spec);
  for (const s of byArrival) {
    const problem = s.problem ?? oversized.get(s.address);
    if (problem !== undefined) {
      selection.leftOut.set(s.address, leftOut("refused", `refused: ${problem}`));
    }
  }
  for (const address of outOfTime) {
    if (selection.leftOut.get(address)?.code === "not-evaluated") {
      selection.leftOut.set(
        address,
        leftOut("not-evaluated", "not evaluated: the window's scoring time ran out"),
      );
    }
  }
  const scores = new Map(byArrival.map((s) => [s.address, book.score(s.address, w)]));
  return {
    ...selection,
    checks,
    scores,
    credit: creditTable(selection.selected, spec, ctx.ownerOf),
    evalMs,
    outOfTime,
    assignment,
  };
}
