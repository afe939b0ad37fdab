import { assertAlmostEquals, assertEquals, assertThrows } from "../testing/assert.ts";
import { adamw, adamwConstants, type AdamWParams } from "./adamw.ts";

const ONE = new Float64Array([1]);
/** The SparseLoCo inner-loop betas and eps; tests override lr, weightDecay and step. */
const HP: AdamWParams = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 1 };
/** The hyper-parameters of the hand-computed example: lr 0.1, β (0.9, 0.99), eps 1e-8, wd 0.1. */
const HAND: AdamWParams = { ...HP, lr: 0.1, beta2: 0.99 };

Deno.test("adamw matches a hand-computed two-step example", () => {
  // HAND: lr 0.1, β (0.9, 0.99), eps 1e-8, wd 0.1; p0 = 1, g1 = 0.5, g2 = −0.25.
  const p = new Float64Array([1]), m = new Float64Array(1), v = new Float64Array(1);
  adamw(p, new Float64Array([0.5]), m, v, ONE, 1, HAND);
  // Step 1: p = 1·(1 − 0.01) = 0.99; m = 0.05; v = 0.0025; m̂ = 0.5, sqrt(v̂) = 0.5:
  // p = 0.99 − 0.1·0.5/(0.5 + 1e-8).
  assertAlmostEquals(m[0], 0.05, 1e-15);
  assertAlmostEquals(v[0], 0.0025, 1e-15);
  const p1 = 0.99 - 0.1 * 0.5 / (0.5 + 1e-8);
  assertAlmostEquals(p[0], p1, 1e-15);
  adamw(p, new Float64Array([-0.25]), m, v, ONE, 1, { ...HAND, step: 2 });
  // Step 2: m = 0.9·0.05 − 0.1·0.25 = 0.02; v = 0.99·0.0025 + 0.01·0.0625 = 0.0031;
  // bias corrections 1 − 0.81 = 0.19 and 1 − 0.9801 = 0.0199.
  assertAlmostEquals(m[0], 0.02, 1e-15);
  assertAlmostEquals(v[0], 0.0031, 1e-15);
  const p2 = p1 * 0.99 - 0.1 * (0.02 / 0.19) / (Math.sqrt(0.0031 / 0.0199) + 1e-8);
  assertAlmostEquals(p[0], p2, 1e-14);
  assertAlmostEquals(p[0], 0.88110000198 - 0.02666994224, 1e-10); // evaluated by hand
});

Deno.test("adamw runs on float32 state", () => {
  const p = new Float32Array([1]), m = new Float32Array(1), v = new Float32Array(1);
  const p64 = new Float64Array([1]), m64 = new Float64Array(1), v64 = new Float64Array(1);
  for (const [step, g] of [[1, 0.5], [2, -0.25], [3, 0.125]]) {
    adamw(p, new Float32Array([g]), m, v, new Float32Array([1]), 1, { ...HAND, step });
    adamw(p64, new Float64Array([g]), m64, v64, ONE, 1, { ...HAND, step });
  }
  assertAlmostEquals(p[0], p64[0], 1e-6);
  assertAlmostEquals(m[0], m64[0], 1e-8);
  assertAlmostEquals(v[0], v64[0], 1e-9);
});

Deno.test("adamw bias correction makes the first update ≈ lr for a constant gradient", () => {
  // With g constant, m̂ = g and v̂ = g² at every step: each update is lr·|g|/(|g| + eps) ≈ lr.
  for (const g of [1e-3, 0.7, -5]) {
    const hp: AdamWParams = { ...HP, weightDecay: 0 };
    const p = new Float64Array([0.3]), m = new Float64Array(1), v = new Float64Array(1);
    for (let step = 1; step <= 5; step++) {
      const before = p[0];
      adamw(p, new Float64Array([g]), m, v, ONE, 1, { ...hp, step });
      assertAlmostEquals(before - p[0], Math.sign(g) * 0.01, 1e-7 * Math.max(1, 1 / Math.abs(g)));
    }
  }
});

Deno.test("adamw weight decay alone shrinks params by (1 − lr·wd)", () => {
  const hp: AdamWParams = { ...HP, lr: 0.02 };
  const p0 = [1, -2.5, 0, 1e-3];
  const p = new Float64Array(p0), m = new Float64Array(4), v = new Float64Array(4);
  adamw(p, new Float64Array(4), m, v, ONE, 4, hp);
  p0.forEach((x, i) => assertEquals(p[i], x * (1 - 0.02 * 0.1)));
  assertEquals([...m, ...v], new Array(8).fill(0));
});

Deno.test("adamw scales the gradient by clip[0] before the moments", () => {
  const hp: AdamWParams = { ...HP, step: 3 };
  const a = [
    new Float64Array([0.5, -1]),
    new Float64Array([0.1, 0.2]),
    new Float64Array([0.01, 0.04]),
  ];
  const b = a.map((x) => x.slice());
  adamw(a[0], new Float64Array([2, -4]), a[1], a[2], new Float64Array([0.25]), 2, hp);
  adamw(b[0], new Float64Array([0.5, -1]), b[1], b[2], ONE, 2, hp);
  for (let k = 0; k < 3; k++) assertEquals([...a[k]], [...b[k]]);
});

Deno.test("adamw only touches the first n elements", () => {
  const hp = HP;
  const p = new Float64Array([1, 1]), m = new Float64Array(2), v = new Float64Array(2);
  adamw(p, new Float64Array([1, 1]), m, v, ONE, 1, hp);
  assertEquals([p[1], m[1], v[1]], [1, 0, 0]);
});

Deno.test("adamwConstants rejects a 0-based step", () => {
  const hp: AdamWParams = { ...HP, step: 0 };
  assertThrows(() => adamwConstants(hp), Error, "1-based");
});
