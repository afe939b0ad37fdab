import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../testing/assert.ts";
import { creditTable } from "./credit.ts";
import { GAUNTLET_DEFAULTS } from "./gauntlet_spec.ts";

const names = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);

Deno.test("creditTable splits 75% over the top 20 on a 2:1 ramp and 25% over the next 10 halving", () => {
  const t = creditTable(names(35), GAUNTLET_DEFAULTS);
  assertEquals(t.length, 30);
  const share = (i: number) => t[i].share;
  const top = t.slice(0, 20).reduce((s, c) => s + c.share, 0);
  const next = t.slice(20).reduce((s, c) => s + c.share, 0);
  assertAlmostEquals(top, 0.75, 1e-12);
  assertAlmostEquals(next, 0.25, 1e-12);
  assertAlmostEquals(share(0) / share(19), 2, 1e-12);
  for (let i = 1; i < 20; i++) assert(share(i) < share(i - 1), `ramp falls at ${i}`);
  // Linear: equal steps down the ramp.
  assertAlmostEquals(share(0) - share(1), share(18) - share(19), 1e-12);
  for (let j = 21; j < 30; j++) assertAlmostEquals(share(j) / share(j - 1), 0.5, 1e-12);
  assertEquals(t.map((c) => c.address), names(30));
});

Deno.test("creditTable gives a small run all of the credit", () => {
  const three = creditTable(names(3), GAUNTLET_DEFAULTS);
  assertAlmostEquals(three.reduce((s, c) => s + c.share, 0), 1, 1e-12);
  assertAlmostEquals(three[0].share, 2 / 4.5, 1e-12); // weights 2, 1.5, 1
  assertEquals(creditTable(names(1), GAUNTLET_DEFAULTS), [{ address: "p0", share: 1 }]);
  assertEquals(creditTable([], GAUNTLET_DEFAULTS), []);
});

Deno.test("creditTable refuses a ranking that names a peer twice", () => {
  assertThrows(() => creditTable(["a", "b", "a"], GAUNTLET_DEFAULTS), RangeError, "twice");
});
