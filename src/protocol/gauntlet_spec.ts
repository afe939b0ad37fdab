/**
 * The validator's scoring parameters (GAUNTLET.md). Every number of the reference run is a
 * default here and a run parameter in the genesis, so a run can tighten or relax its defences
 * without a code change.
 *
 * @module
 */

/** Scoring, penalties, selection and credit of one run. */
export interface GauntletSpec {
  /** Peers evaluated per window at most (the rest are sampled over windows). */
  evalBudget: number;
  /** Rating bins used to sample candidates when there are more than the budget. */
  bins: number;
  /** Batches of the peer's assigned data and of unassigned data in one loss test. */
  evalBatches: number;
  /** Step of the loss test, as a fraction of the run's α (the update is applied alone). */
  evalStep: number;
  /**
   * An update passes the loss test when its gradient score is positive and at least this
   * fraction of the window's best: a near-zero free-rider helps by almost nothing. (Ours; the
   * reference only ranked.)
   */
  passRatio: number;
  /**
   * An update with a tensor whose norm exceeds this multiple of the window's median is refused
   * outright: clipping would tame it in the aggregate, but a scaled or garbage update has no
   * business there at all. After the loss tests the same ratio, either way, is held against the
   * lower median of the helpful updates' norms, which a hostile half cannot move
   * (src/gauntlet/gauntlet.ts). Honest peers' norms lie within a small factor of each other.
   * (Ours.)
   */
  maxNormRatio: number;
  /** Plackett–Luce β of the ratings. */
  ratingBeta: number;
  /** Plackett–Luce τ (added uncertainty per window). */
  ratingTau: number;
  /** Gradient score a missing or malformed update enters the ranking with. */
  floorScore: number;
  /**
   * The assignment test (ours; the reference compared one sign, which on the tiny model from θ₀
   * was a coin flip: own-batch drop 0.00101 against 0.00100 unassigned). Each helpful update is
   * applied alone and its per-sequence loss drop measured on `assignBatches` of the peer's
   * assigned batches (at steps it cannot predict, from all H) and on 2·`assignBatches`
   * unassigned ones, each paired with the median drop of `assignRefs` other updates on the same
   * sequence. A peer that trained on its data gains more on it than the others do; the test
   * statistic is the difference of those paired margins, own minus unassigned, over its standard
   * error (a Welch z). Measured with this code on the tiny model, H 4, batch 2 (8 own
   * sequences), 3 honest peers and one trained on the next stream, 4 key seeds × 6 windows:
   * honest z mean 2.30 (sd 1.01; 8% of windows below 1), other-data z mean 0.08 (sd 0.93; 12%
   * above 1); with the rule below every honest peer was selected in all windows ≥ 1 and the
   * other-data peer in windows 0 and 1 only, in all 4 seeds. Two refs or 4 unassigned batches
   * separated less; a larger step (α·1) no better.
   */
  assignBatches: number;
  /** Other updates each update is paired with in the assignment test. */
  assignRefs: number;
  /**
   * A peer whose mean assignment z over its last `assignWindows` tests is below this is left
   * out ("not shown to train on its assigned data"); a window's indicator is +1 when its z
   * reaches it. Off by default (−1e6: z is measured, logged and kept, nobody is left out): the
   * calibration above (1 at H 4, batch 2) does not carry to other runs — at `npm start`'s H 30,
   * batch 4 honest peers' mean z was 0.3–0.6 and a threshold of 1 left two of three out. A run
   * sets it for its own H and batch, or uses `assignPassZ` (bench/attack.ts does).
   */
  assignZ: number;
  /**
   * The burden of proof (ours): when above 0, a key enters the aggregate only once it is shown
   * to train on its assigned data — the combined z of its last `assignWindows` tests (Stouffer:
   * Σz / √m) at least this — and a key with no completed test yet is on probation (scored,
   * rated, tested, not aggregated): an other-data key's first windows cannot land. Derived from
   * the test's own statistics rather than tuned per run: a peer that did not train on its
   * batches has each window's z ≈ N(0, 1) whatever H and batch (measured: bench/attack_assign.ts),
   * so the combined z is N(0, 1) too and this is a one-sided test at a fixed false-pass rate
   * (1.645: 5%); only the honest side's power depends on H and batch. 0: off (the `assignZ`
   * rule alone, no probation). Off by default because that power is missing at large H·batch:
   * measured 2026-12-01 (bench/attack_assign.ts, tiny model, 4 key seeds), honest z averaged
   * 2.29 (sd 1.20) at H 4, batch 2 (other-data 0.04, sd 1.05), but at H 30, batch 4 0.27 with
   * 4 random steps and 0.68 with every inner step's batch; the rule at 1.645 selected honest
   * peers in 98% of windows ≥ 1 at H 4 and 3–33% at H 30 (4 seeds × 6 windows).
   */
  assignPassZ: number;
  /**
   * Admission under the burden of proof by a sequential test (ours; 0: off, the `assignPassZ`
   * rule alone): with `assignPassZ` above 0 a key also stays on probation until Wald's
   * sequential probability ratio test of all its assignment tests since its last reset, z ~
   * N(0, 1) (not trained on its data) against z ~ N(`assignSprtMu`, 1), admits it: Σz ≥
   * ln(1/`assignSprtAlpha`) / μ + n·μ / 2 after n tests. Admission is kept until a reset; the
   * `assignPassZ` rule on the last `assignWindows` tests still applies on top. Why: that rule
   * alone is a fresh 5% chance every record, so a key that never trains on its data lands in
   * at least one of 20 records with probability 0.44 (N(0, 1) z; 0.54 at the measured sd 1.07
   * of span mode's null), while the sequential test bounds that over the whole run by α
   * (simulated: 0.023 at sd 1, 0.041 at sd 1.1). Measured offline (bench/attack_assign.ts, H 30,
   * batch 4, span 2048, 4 key seeds × 6 windows, 2026-12-01): with μ 1.5 honest keys were in
   * 17%, 58%, 75%, 92%, 100%, 100% of records 1–6 (the `assignPassZ` rule alone: 42%, 67%,
   * then 100%), the other-data key in none; so the warm-up is 4 records (0–3). μ 1.5: the
   * honest z per test there averaged 1.4 from θ₀ and 2.3 over 6 windows; 2 or 2.5 admitted no
   * faster (a smaller span, 512 or 1024, neither: bench/attack_assign_span*.json). In real
   * swarms (bench/attack.ts --span, 8 windows) span 2048's honest z averaged only ~1–2 (one
   * clean-4 key in half of records 4–7), span 512's 2–8: there, with α 0.01 (α 0.05 admitted
   * an other-data key on a first z of 3.33), honest keys were in every record from record 3
   * and other-data in none: `npm start`'s genesis (src/cli/swarm_main.ts). Off by default.
   */
  assignSprtMu: number;
  /** The false admission rate the sequential test bounds (`assignSprtMu`): α. */
  assignSprtAlpha: number;
  /** Assignment tests averaged (the `assignZ` rule) or combined (`assignPassZ`). */
  assignWindows: number;
  /**
   * Keys given an assignment test per window at most (ours): the test's forward passes grow
   * with the keys it covers ((1 + `assignRefs`) · `assignBatches` + 2 · `assignBatches` per
   * update), so without a cap a validator with many peers gets its z values ever later and
   * older. Keys on probation (not yet shown to train on their data) go first, then the longest
   * untested (`PeerBook.assignmentPick`); the others keep the z values they have. 8: in the
   * real swarm (tiny model, H 30, 2 loaded cores) one update's test took 1.4–3.4 s, so 8 fill
   * about a 20 s window; more would only make every z later.
   */
  assignCap: number;
  /**
   * Assignment tests a peer passes through before its mean can leave it out: one window's z
   * is noisy (an honest peer is below 1 in one window of ten), the mean of three is not (and an
   * other-data peer is out from its third window, within the 3 the issue allows).
   */
  assignWarmup: number;
  /** EMA factor of the assignment indicator. */
  indicatorEma: number;
  /** Below this EMA, after the warm-up, the indicator counts as zero. */
  indicatorMin: number;
  /** Windows a peer is evaluated before `indicatorMin` applies. */
  warmupWindows: number;
  /** Score factors for 1, 2, 3+ consecutive windows missing from the gather. */
  missFactors: readonly number[];
  /** Recent windows judged for absence and negative evaluations. */
  historyWindows: number;
  /** Absent in at least this share of the recent windows: reset and ban. */
  absentShare: number;
  /** Factor when more than half the recent evaluations were negative. */
  negativeFactor: number;
  /** Negative evaluations in a row that exclude a peer from the gather. */
  negativeStreak: number;
  /**
   * Index-overlap thresholds with an earlier uploader: halve, reset, reset and ban (in excess of
   * the window's baseline: `copyBaseline`).
   */
  copyHalve: number;
  copyReset: number;
  copyBan: number;
  /**
   * Cosine of the decoded values above which an update counts as a re-noised copy of an
   * earlier one (treated like `copyBan` overlap; in excess of the window's baseline, as the
   * overlap): noise added before a copy's top-k keeps its direction. Honest cosines follow
   * their overlap (up to 0.83 one step from θ₀ at batch 16); the attacker's re-noised copy
   * (codes redrawn) measured 0.52–0.65 and is caught by its overlap of 1 instead.
   */
  copyCosine: number;
  /**
   * The copy thresholds above (ours since 2026-12-01) hold a pair's likeness in excess of the
   * window's honest baseline, (x − m) / (1 − m), m the median over the window's pairs
   * (src/gauntlet/copies.ts), capped at this and taken as this where a window of two updates
   * has no baseline of its own. Honest updates share their common component: measured
   * (bench/copy_likeness.ts, tiny model, 3 seeds) one inner step from θ₀ overlapped 0.60–0.74
   * at batch 2–4 and up to 0.85 at batch 16, 8 steps 0.53 at batch 16 in later windows — the
   * fixed thresholds banned or reset honest peers — while a copy (exact, re-noised, replayed)
   * overlaps 1, whose excess is 1 under any baseline below 1. The cap keeps a majority of
   * near-copies from raising the baseline over themselves. 0: the fixed thresholds.
   */
  copyBaseline: number;
  /** Windows a ban lasts. */
  banWindows: number;
  /** Contributors credited in the top tier, and its share of the credit. */
  creditTop: number;
  creditTopShare: number;
  /** Contributors credited in the next tier (each half the one before), and its share. */
  creditNext: number;
  creditNextShare: number;
  /** Reserves kept behind the selected peers, for those that miss the deadline. */
  reserves: number;
}

/** The reference run's values (GAUNTLET.md). */
export const GAUNTLET_DEFAULTS: Readonly<GauntletSpec> = Object.freeze({
  evalBudget: 20,
  bins: 5,
  evalBatches: 2,
  evalStep: 0.2,
  passRatio: 0.1,
  maxNormRatio: 10,
  ratingBeta: 7,
  ratingTau: 0.1,
  floorScore: -99,
  assignBatches: 4,
  assignRefs: 3,
  assignZ: -1e6,
  assignPassZ: 0,
  assignSprtMu: 0,
  assignSprtAlpha: 0.05,
  assignWindows: 4,
  assignCap: 8,
  assignWarmup: 3,
  indicatorEma: 0.05,
  indicatorMin: 0.1,
  warmupWindows: 10,
  missFactors: Object.freeze([0.75, 0.5, 0]),
  historyWindows: 8,
  absentShare: 0.5,
  negativeFactor: 0.25,
  negativeStreak: 3,
  copyHalve: 0.4,
  copyReset: 0.5,
  copyBan: 0.6,
  copyCosine: 0.9,
  copyBaseline: 0.9,
  banWindows: 20,
  creditTop: 20,
  creditTopShare: 0.75,
  creditNext: 10,
  creditNextShare: 0.25,
  reserves: 10,
});
