/**
 * Who is evaluated and who enters the aggregate in a window (GAUNTLET.md "Who is evaluated",
 * "Selection and credit"). Only an evaluated update that passed its loss test, from a peer that
 * is not banned or left out, can be selected: an attacker's first window cannot land.
 *
 * @module
 */

import { mixSeed, Rng } from "../util/rng.ts";
import type { GauntletSpec } from "../protocol/gauntlet_spec.ts";
import type { LossCheckResult } from "./loss_check.ts";
import type { PeerBook } from "./peer_book.ts";
import type { VerdictCode } from "../codec/messages.ts";
import { ratingOrdinal } from "./ratings.ts";

/** An update that arrived in time, by author. */
export interface Candidate {
  address: string;
  /** When its announcement arrived (ms); earlier wins ties and copy disputes. */
  arrival: number;
}

/**
 * The candidates to evaluate in window `w`: all when they fit the budget; else, as the
 * reference did, the peers split into `bins` bins by rating, one bin drawn at random (seeded by
 * `seed` and `w`, so a restarted validator draws the same), the longest unevaluated first,
 * filled up from the following bins when one bin is short: the first `evalBudget` of
 * {@linkcode evaluationOrder}.
 */
export function sampleForEvaluation(
  candidates: readonly Candidate[],
  book: PeerBook,
  w: number,
  spec: Pick<GauntletSpec, "evalBudget" | "bins">,
  seed: number,
): string[] {
  if (candidates.length <= spec.evalBudget) return candidates.map((c) => c.address);
  return evaluationOrder(candidates, book, w, spec, seed).slice(0, spec.evalBudget);
}

/**
 * Every candidate, in the order a sample of window `w` takes them: bins by rating, the drawn
 * bin first, each bin longest unevaluated first. Any prefix is the reference's sample of that
 * size, so a validator short of time (src/gauntlet/gauntlet.ts) evaluates as far as its time
 * goes and samples by the same rule as a budget of that many.
 */
export function evaluationOrder(
  candidates: readonly Candidate[],
  book: PeerBook,
  w: number,
  spec: Pick<GauntletSpec, "bins">,
  seed: number,
): string[] {
  const byRating = [...candidates].sort((a, b) =>
    ratingOrdinal(book.entry(b.address).rating) - ratingOrdinal(book.entry(a.address).rating) ||
    a.arrival - b.arrival
  );
  const size = Math.ceil(byRating.length / spec.bins);
  const bins = Array.from({ length: spec.bins }, (_, i) => byRating.slice(i * size, (i + 1) * size));
  const first = new Rng(mixSeed(seed, w)).int(spec.bins);
  const out: string[] = [];
  for (let i = 0; i < spec.bins; i++) {
    const bin = [...bins[(first + i) % spec.bins]].sort((a, b) =>
      book.entry(a.address).lastEvaluated - book.entry(b.address).lastEvaluated || a.arrival - b.arrival
    );
    for (const c of bin) out.push(c.address);
  }
  return out;
}

/** Why a candidate was left out of a window's aggregate (round records carry it). */
export interface LeftOut {
  code: VerdictCode;
  /** A ban's last window (0 otherwise). */
  until: number;
  /** The victim of a copy (null otherwise). */
  other: string | null;
  /** One line for logs and the live view. */
  text: string;
}

/** A left-out verdict without ban or victim. */
export function leftOut(code: VerdictCode, text: string): LeftOut {
  return { code, until: 0, other: null, text };
}

/** The window's selection. */
export interface Selection {
  /** Contributors, best final score first (at most the cap). */
  selected: string[];
  /** The next best that passed, in order, for peers that miss the deadline. */
  reserves: string[];
  /** Why each other candidate was left out. */
  leftOut: Map<string, LeftOut>;
}

/**
 * Picks the contributors of window `w` from the evaluated candidates, after
 * `book.closeWindow(w, …)` has rated them: passed the loss test, not excluded, ranked by final
 * score (ties: earlier arrival), up to `cap`.
 */
export function selectContributors(
  candidates: readonly Candidate[],
  results: ReadonlyMap<string, Pick<LossCheckResult, "gradScore">>,
  book: PeerBook,
  w: number,
  cap: number,
  spec: Pick<GauntletSpec, "passRatio" | "reserves">,
): Selection {
  const out = new Map<string, LeftOut>();
  const best = Math.max(0, ...[...results.values()].map((r) => r.gradScore).filter(Number.isFinite));
  const passed: Candidate[] = [];
  for (const c of candidates) {
    const r = results.get(c.address);
    const excluded = book.exclusion(c.address, w);
    if (excluded !== null) out.set(c.address, excluded);
    else if (r === undefined) out.set(c.address, leftOut("not-evaluated", "not evaluated"));
    else if (r.gradScore < 0 || Number.isNaN(r.gradScore)) out.set(c.address, leftOut("negative-score", "negative score"));
    else if (r.gradScore === 0) out.set(c.address, leftOut("no-gain", "no gain"));
    else if (r.gradScore < spec.passRatio * best) out.set(c.address, leftOut("small-gain", "too small a gain"));
    else passed.push(c);
  }
  passed.sort((a, b) => book.score(b.address, w) - book.score(a.address, w) || a.arrival - b.arrival);
  const selected = passed.slice(0, cap).map((c) => c.address);
  const reserves = passed.slice(cap, cap + spec.reserves).map((c) => c.address);
  for (const c of passed.slice(cap + spec.reserves)) out.set(c.address, leftOut("below-cap", "below the cap"));
  return { selected, reserves, leftOut: out };
}
