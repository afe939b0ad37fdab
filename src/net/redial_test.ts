import { assertEquals } from "../testing/assert.ts";
import { Redial, REDIAL_BASE_MS, STABLE_MS } from "./redial.ts";

/**
 * The node's use of a {@linkcode Redial}, on a fake clock: a maintenance tick every second
 * dials when due; `dial(now)` is the fake dialer, answering how long the connection it makes
 * stays up (ms), or null when the dial fails. Returns the times of the dials.
 */
function simulate(k: Redial, dial: (now: number) => number | null, untilMs: number): number[] {
  const dials: number[] = [];
  let lostAt: number | null = null;
  for (let now = 0; now <= untilMs; now += 1_000) {
    if (lostAt !== null && lostAt <= now) {
      k.lost(lostAt);
      lostAt = null;
    }
    if (lostAt !== null) k.connected(now);
    else if (k.due(now)) {
      dials.push(now);
      k.dialStarted();
      const up = dial(now);
      k.dialEnded(now + 50, up !== null);
      if (up !== null) lostAt = now + 50 + up;
    }
  }
  return dials;
}

Deno.test("Redial backs off from a peer that accepts and then drops every connection", () => {
  const dials = simulate(new Redial(10_000), () => 100, 60_000);
  // Waits 1, 2, 4, 8, then 10 s (the cap): not a dial every second.
  assertEquals(dials.slice(0, 6), [0, 2_000, 5_000, 10_000, 19_000, 30_000]);
  assertEquals(dials.length, 8);
});

Deno.test("Redial resets after a connection that stayed up, not after a dial that succeeded", () => {
  const k = new Redial(10_000);
  let n = 0;
  // Three failed dials (waits 1, 2, 4 s), then connections that stay up 12 s: each loss of one
  // waits the base second again (lost at 22.05 s, next tick after 23.05 s).
  const dials = simulate(k, () => n++ < 3 ? null : STABLE_MS + 2_000, 60_000);
  assertEquals(dials, [0, 2_000, 5_000, 10_000, 24_000, 38_000, 52_000]);
  assertEquals(k.failures, 0);
  // One failure after a stable connection waits the base time, not the old backoff.
  const after = new Redial(10_000);
  after.dialStarted();
  after.dialEnded(0, false);
  after.dialStarted();
  after.dialEnded(1_000, true);
  after.connected(1_000 + STABLE_MS);
  after.lost(1_000 + STABLE_MS + 1);
  assertEquals([after.failures, after.next], [0, 1_000 + STABLE_MS + 1 + REDIAL_BASE_MS]);
});

Deno.test("Redial with no interval dials once and never again", () => {
  assertEquals(simulate(new Redial(0), () => null, 30_000), [0]);
  assertEquals(simulate(new Redial(0), () => 100, 30_000), [0]);
});

Deno.test("Redial does not count a connection lost before its dial resolved as stable", () => {
  const k = new Redial(60_000);
  // The peer drops the connection before libp2p.dial resolves: the loss comes first.
  k.dialStarted();
  k.lost(900);
  k.dialEnded(1_000, true);
  assertEquals(k.failures, 1);
  // Long after, a dial that connects is a fresh connection: not up since 1 s, no reset.
  k.dialStarted();
  k.dialEnded(1_000 + 2 * STABLE_MS, true);
  assertEquals(k.failures, 1);
  k.lost(1_000 + 2 * STABLE_MS + 100);
  assertEquals([k.failures, k.next], [2, 1_000 + 2 * STABLE_MS + 100 + 2 * REDIAL_BASE_MS]);
});
