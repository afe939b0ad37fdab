import { LR_DEFAULTS, lrAt } from "./lr_schedule.ts";

function near(got: number, want: number, what: string, tol = 1e-15): void {
  if (!(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)))) {
    throw new Error(`${what}: got ${got}, want ${want}`);
  }
}

const S = { base: 1e-3, warmup: 100, total: 1100, minRatio: 0.1 };

Deno.test("lrAt warms up linearly to base", () => {
  near(lrAt(0, S), 1e-5, "step 0");
  near(lrAt(49, S), 5e-4, "step 49");
  near(lrAt(99, S), 1e-3, "step 99");
  for (let i = 1; i < 100; i++) {
    if (!(lrAt(i, S) > lrAt(i - 1, S))) throw new Error(`not increasing at ${i}`);
  }
});

Deno.test("lrAt decays by a cosine to minRatio·base at total", () => {
  near(lrAt(100, S), 1e-3, "start of decay");
  near(lrAt(600, S), 1e-3 * (0.1 + 0.9 * 0.5), "half-way");
  near(lrAt(350, S), 1e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.SQRT1_2)), "quarter");
  near(lrAt(1100, S), 1e-4, "at total");
  for (let i = 101; i <= 1100; i++) {
    if (!(lrAt(i, S) < lrAt(i - 1, S))) throw new Error(`not decreasing at ${i}`);
  }
});

Deno.test("lrAt holds minRatio·base after total", () => {
  near(lrAt(1101, S), 1e-4, "just after");
  near(lrAt(1e6, S), 1e-4, "long after");
});

Deno.test("lrAt defaults to the reference warm-up 1500 and ratio 0.1", () => {
  const s = { base: 2, total: 3500 };
  if (LR_DEFAULTS.warmup !== 1500 || LR_DEFAULTS.minRatio !== 0.1) throw new Error("defaults");
  near(lrAt(1499, s), 2, "end of warm-up");
  near(lrAt(0, s), 2 / 1500, "first step");
  near(lrAt(3500, s), 0.2, "end of decay");
});

Deno.test("lrAt without warm-up starts at base", () => {
  near(lrAt(0, { ...S, warmup: 0 }), 1e-3, "step 0");
});

Deno.test("lrAt with total ≤ warmup drops to the floor after warm-up", () => {
  const s = { base: 1, warmup: 10, total: 5, minRatio: 0.1 };
  near(lrAt(9, s), 1, "end of warm-up");
  near(lrAt(10, s), 1, "first step after");
  near(lrAt(11, s), 0.1, "then the floor");
});

Deno.test("lrAt rejects a negative step", () => {
  let threw = false;
  try {
    lrAt(-1, S);
  } catch {
    threw = true;
  }
  if (!threw) throw new Error("lrAt(-1) did not throw");
});
