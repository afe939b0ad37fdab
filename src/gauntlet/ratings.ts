/**
 * Peer ratings: an OpenSkill Plackett–Luce model (the npm `openskill` package, Weng–Lin) over
 * the peers evaluated in a window, ranked by gradient score. A maintained implementation of the
 * maths rather than our own; the tests check it against the package's published examples.
 *
 * @module
 */

import { ordinal, rate, rating } from "openskill";
import { plackettLuce } from "openskill/models";
import type { GauntletSpec } from "../protocol/gauntlet_spec.ts";

/** A Gaussian belief about a peer's skill. */
export interface Rating {
  mu: number;
  sigma: number;
}

/** The rating of a peer never seen (μ 25, σ 25/3). */
export function newRating(): Rating {
  return rating();
}

/** μ − 3σ: the conservative estimate that ranks peers. */
export function ratingOrdinal(r: Rating): number {
  return ordinal(r);
}

/**
 * The ratings after one window in which `scores[i]` was the gradient score of the peer rated
 * `before[i]` (higher is better; equal scores tie). Fewer than two peers: unchanged, since a
 * ranking of one says nothing.
 */
export function rateWindow(
  before: readonly Rating[],
  scores: readonly number[],
  spec: Pick<GauntletSpec, "ratingBeta" | "ratingTau">,
): Rating[] {
  if (before.length !== scores.length) {
    throw new RangeError(`rateWindow: ${before.length} ratings for ${scores.length} scores`);
  }
  if (scores.some((s) => !Number.isFinite(s))) throw new RangeError("rateWindow: a score is not finite");
  if (before.length < 2) return before.map((r) => ({ ...r }));
  const teams = before.map((r) => [{ mu: r.mu, sigma: r.sigma }]);
  const out = rate(teams, {
    model: plackettLuce,
    score: [...scores],
    beta: spec.ratingBeta,
    tau: spec.ratingTau,
  });
  return out.map(([r]) => ({ mu: r.mu, sigma: r.sigma }));
}
