import { assert, assertAlmostEquals, assertEquals } from "../testing/assert.ts";
import { Rng } from "../util/rng.ts";
import { spanZ, welchZ } from "./assignment.ts";

Deno.test("spanZ adds the spread between the unassigned batches' spans to the own side", () => {
  // Batches of 2, each with variance 0.5 (the pooled within-batch variance); the unassigned
  // batch means 0 and 2 (variance 2) are two spans; the own mean is 3.
  const own = [2.5, 3.5, 2.5, 3.5], un = [-0.5, 0.5, 1.5, 2.5];
  const within = 0.5, vu = 2, between = vu - within / 2;
  assertAlmostEquals(spanZ(own, un, 2), (3 - 1) / Math.sqrt(between + within / 4 + vu / 2), 1e-12);
  assert(spanZ(own, un, 2) < welchZ(own, un), "the spread between spans lowers z");
  assertEquals(spanZ(own, [1, 1], 2), NaN);
  assertEquals(spanZ([1], un, 2), NaN);
  assertEquals(spanZ([1, NaN], un, 2), -Infinity);
  assertEquals(spanZ([1, 1], [1, 1, 1, 1], 2), 0);
});

Deno.test("spanZ of a candidate not trained on its span passes about as often as N(0, 1) would, Welch's z far more often", () => {
  // Each span shifts all its sequences' margins by one draw (sd 1), each sequence by another
  // (sd 2): the null of span mode, 4 own batches of 4 from one span, 8 unassigned from 8.
  const rng = new Rng(7), B = 4, trials = 2000;
  const span = () => rng.normal();
  const batch = (shift: number) => Array.from({ length: B }, () => shift + 2 * rng.normal());
  const zs = { span: [] as number[], welch: [] as number[] };
  for (let t = 0; t < trials; t++) {
    const s = span();
    const own = Array.from({ length: 4 }, () => batch(s)).flat();
    const un = Array.from({ length: 8 }, () => batch(span())).flat();
    zs.span.push(spanZ(own, un, B));
    zs.welch.push(welchZ(own, un));
  }
  const sd = (x: number[]) => {
    const m = x.reduce((a, b) => a + b, 0) / x.length;
    return Math.sqrt(x.reduce((a, b) => a + (b - m) ** 2, 0) / (x.length - 1));
  };
  const pass = (x: number[]) => x.filter((z) => z >= 1.645).length / x.length;
  // Heavier tails than N(0, 1) (σ_b² is estimated from 8 batch means): sd ~1.3, 6–8% above
  // 1.645 where N(0, 1) has 5%.
  assert(sd(zs.span) > 0.8 && sd(zs.span) < 1.45, `spanZ sd ${sd(zs.span)}`);
  assert(sd(zs.welch) > 1.5, `welchZ sd ${sd(zs.welch)}`);
  assert(pass(zs.span) < 0.1, `spanZ false passes ${pass(zs.span)}`);
  assert(pass(zs.welch) > 0.15, `welchZ false passes ${pass(zs.welch)}`);
});
