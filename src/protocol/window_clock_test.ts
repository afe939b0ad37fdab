import { assertEquals, assertThrows } from "../testing/assert.ts";
import { TimeWindowClock } from "./window_clock.ts";

const T0 = 1_750_000_000_000; // fixed genesis time

Deno.test("TimeWindowClock maps times to windows at the boundaries", () => {
  const c = new TimeWindowClock(T0, 30_000);
  assertEquals(c.windowAt(T0), 0);
  assertEquals(c.windowAt(T0 + 29_999), 0);
  assertEquals(c.windowAt(T0 + 30_000), 1);
  assertEquals(c.windowAt(T0 + 30_000 * 1000 + 5), 1000);
  assertEquals(c.windowAt(T0 - 1), -1);
  assertEquals(c.windowAt(T0 - 30_001), -2);
});

Deno.test("TimeWindowClock start and end bracket every window and agree with windowAt", () => {
  const c = TimeWindowClock.fromGenesis({ genesisTime: T0, windowMs: 7_001 });
  for (const w of [0, 1, 2, 99, 12_345, 4_000_000]) {
    const s = c.windowStart(w);
    const e = c.windowEnd(w);
    assertEquals(e - s, 7_001);
    assertEquals(c.windowEnd(w), c.windowStart(w + 1));
    assertEquals(c.windowAt(s), w);
    assertEquals(c.windowAt(e - 1), w);
    assertEquals(c.windowAt(e), w + 1);
  }
});

Deno.test("TimeWindowClock rejects bad arguments", () => {
  assertThrows(() => new TimeWindowClock(-1, 1000), RangeError, "genesisTime");
  assertThrows(() => new TimeWindowClock(T0, 0), RangeError, "windowMs");
  assertThrows(() => new TimeWindowClock(T0, 1.5), RangeError, "windowMs");
  const c = new TimeWindowClock(T0, 1000);
  assertThrows(() => c.windowStart(-1), RangeError, "window must be");
  assertThrows(() => c.windowStart(1.5), RangeError, "window must be");
  assertThrows(() => c.windowEnd(2 ** 32), RangeError, "window must be");
  assertThrows(() => c.windowAt(NaN), RangeError, "finite");
});
