import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../testing/assert.ts";
import { GAUNTLET_DEFAULTS } from "../protocol/gauntlet_spec.ts";
import { newRating, rateWindow, ratingOrdinal } from "./ratings.ts";

// The openskill package's README examples (v5.0.1): its default model and defaults (β 25/6,
// τ 25/300), four players of a fresh rating, ranked by score [37, 19, 37, 42].
Deno.test("rateWindow reproduces the openskill README's score example with its defaults", () => {
  const r = newRating();
  assertAlmostEquals(r.mu, 25, 1e-12);
  assertAlmostEquals(r.sigma, 25 / 3, 1e-12);
  const out = rateWindow([r, r, r, r], [37, 19, 37, 42], { ratingBeta: 25 / 6, ratingTau: 25 / 300 });
  const want = [[24.689, 8.179], [22.826, 8.179], [24.689, 8.179], [27.795, 8.263]];
  out.forEach((o, i) => {
    assertAlmostEquals(o.mu, want[i][0], 1e-3);
    assertAlmostEquals(o.sigma, want[i][1], 1e-3);
  });
  assertAlmostEquals(ratingOrdinal({ mu: 43.07, sigma: 2.42 }), 35.81, 1e-9);
});

Deno.test("rateWindow with the run's β and τ moves the best up and the worst down", () => {
  const r = newRating();
  const out = rateWindow([r, r, r], [0.01, -0.5, 0.002], GAUNTLET_DEFAULTS);
  assert(out[0].mu > r.mu && out[1].mu < r.mu, JSON.stringify(out));
  assert(out[0].mu > out[2].mu && out[2].mu > out[1].mu, JSON.stringify(out));
  // τ adds uncertainty before the update: a lone peer keeps its rating untouched.
  assertEquals(rateWindow([r], [1], GAUNTLET_DEFAULTS), [r]);
});

Deno.test("rateWindow refuses mismatched or non-finite scores", () => {
  const r = newRating();
  assertThrows(() => rateWindow([r, r], [1], GAUNTLET_DEFAULTS), RangeError, "2 ratings for 1");
  assertThrows(() => rateWindow([r, r], [1, NaN], GAUNTLET_DEFAULTS), RangeError, "not finite");
});
