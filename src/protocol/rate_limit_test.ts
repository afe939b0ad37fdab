import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { RateLimiter } from "./rate_limit.ts";

const opts = { perSecond: 2, burst: 5, maxKeys: 3, reportEveryMs: 1000 };

Deno.test("RateLimiter lets a burst through, then the sustained rate", () => {
  const r = new RateLimiter(opts);
  for (let i = 0; i < 5; i++) assertEquals(r.take("a", 0).ok, true, `burst ${i}`);
  assertEquals(r.take("a", 0).ok, false);
  assertEquals(r.take("a", 499).ok, false, "not a whole token yet");
  assertEquals(r.take("a", 500).ok, true, "one token per 500 ms");
  assertEquals(r.take("b", 500).ok, true, "another identity has its own bucket");
});

Deno.test("RateLimiter reports a flooding identity once per period with its count", () => {
  const r = new RateLimiter(opts);
  let reports = 0, counted = 0;
  // 200 messages a second for 3 seconds.
  for (let t = 0; t < 3000; t += 5) {
    const v = r.take("flood", t);
    if (!v.ok && v.report) {
      reports++;
      counted += v.dropped;
    }
  }
  assertEquals(reports, 3, "one report a second");
  // Each report carries the refusals since the one before: ~200 a second, less 2 let through.
  assert(counted > 390 && counted < 410, `dropped ${counted}`);
});

Deno.test("RateLimiter forgets the least recently seen identity beyond maxKeys", () => {
  const r = new RateLimiter(opts);
  for (let i = 0; i < 5; i++) r.take("a", 0);
  r.take("b", 0);
  r.take("c", 0);
  r.take("d", 0); // evicts "a", the least recent
  assertEquals(r.size, 3);
  assertEquals(r.take("a", 0).ok, true, "a fresh bucket for a forgotten identity");
  assertThrows(() => new RateLimiter({ ...opts, perSecond: 0 }), RangeError, "perSecond");
});
