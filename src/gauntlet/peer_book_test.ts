import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../testing/assert.ts";
import { GAUNTLET_DEFAULTS } from "../protocol/gauntlet_spec.ts";
import { type Outcome, PeerBook, signedScale } from "./peer_book.ts";

// The assignment threshold calibrated for the tiny model at H 4, batch 2 (off by default).
const spec = { ...GAUNTLET_DEFAULTS, assignZ: 1 };
const good = (g = 0.02): Outcome => ({ kind: "evaluated", gradScore: g, indicator: 1 });

/** Runs `windows` windows in which every peer gets `outcome(address, w)`. */
function run(book: PeerBook, peers: string[], windows: number, outcome: (a: string, w: number) => Outcome, from = 0) {
  for (let w = from; w < from + windows; w++) {
    book.beginWindow();
    book.closeWindow(w, new Map(peers.map((a) => [a, outcome(a, w)])));
  }
}

Deno.test("signedScale never helps a negative score and never flips a sign", () => {
  for (const s of [-3, -0.5, 0, 0.5, 3]) {
    for (const f of [0, 0.25, 0.5, 1]) {
      const r = signedScale(s, f);
      assert(Math.sign(r) === Math.sign(s) || r === 0, `${s}·${f} = ${r}`);
      if (s < 0) assert(r <= s, `negative ${s} moved towards zero: ${r}`);
      else assert(r <= s, `penalty raised ${s} to ${r}`);
    }
  }
});

Deno.test("PeerBook scores honest peers positively and leaves them unpunished", () => {
  const book = new PeerBook(spec);
  const peers = ["alice", "bob", "carol"];
  // Honest peers trade places from window to window: all end up rated above a newcomer.
  run(book, peers, 12, (a, w) => good(0.01 * (1 + ((peers.indexOf(a) + w) % 3))));
  for (const a of peers) {
    assertEquals(book.exclusion(a, 12), null);
    assertEquals(book.entry(a).reason, "");
    assert(book.score(a, 12) > 0, `${a}: ${book.score(a, 12)}`);
  }
  // One that is always last falls in rating (credit follows the ranking), but it is never
  // left out or penalised for it.
  const ranked = new PeerBook(spec);
  run(ranked, peers, 12, (a) => good(a === "alice" ? 0.03 : a === "bob" ? 0.02 : 0.01));
  assert(ranked.score("alice", 12) > ranked.score("carol", 12), "the best gradient ranks first");
  assertEquals(ranked.exclusion("carol", 12), null);
  assertEquals(ranked.entry("carol").reason, "");
});

Deno.test("PeerBook: a negative rating times a negative indicator stays negative", () => {
  const book = new PeerBook(spec);
  // Always last by gradient score and trained on other data: rating falls below 0, EMA < 0.
  run(book, ["honest1", "honest2", "mallory"], 6, (a) =>
    a === "mallory" ? { kind: "evaluated", gradScore: -0.5, indicator: -1 } : good());
  const e = book.entry("mallory");
  assert(e.indicatorEma < 0, `ema ${e.indicatorEma}`);
  assert(book.score("mallory", 6) < 0, `score ${book.score("mallory", 6)}`);
});

Deno.test("PeerBook leaves a peer out after three negative evaluations in a row", () => {
  // A gradient score of zero or less is negative; the indicator alone never is.
  const zero = new PeerBook(spec);
  run(zero, ["a", "b", "z"], 2, (a) => a === "z" ? { kind: "evaluated", gradScore: 0, indicator: 1 } : good());
  assertEquals(zero.exclusion("z", 2), null);
  run(zero, ["a", "b", "z"], 1, (a) => a === "z" ? { kind: "evaluated", gradScore: 0, indicator: 1 } : good(), 2);
  assertEquals(zero.exclusion("z", 3)?.text, "3 negative evaluations in a row");
  assertEquals(zero.exclusion("a", 3), null);
});

Deno.test("PeerBook leaves out a peer whose mean assignment z stays low, after the warm-up", () => {
  const book = new PeerBook(spec);
  // Honest z values as measured on the tiny model (one unlucky window of ten below 1), and an
  // other-data peer's around 0 with one lucky window.
  const honest = [2.6, 0.3, 2.9, 1.9, 3.4];
  const other = [1.5, -0.7, 0.2, 0.9, -1.3];
  const outcome = (a: string, w: number): Outcome => ({
    kind: "evaluated",
    gradScore: 0.01,
    indicator: 1,
    assignZ: a === "eve" ? other[w] : honest[w],
  });
  run(book, ["a", "eve"], spec.assignWarmup - 1, outcome);
  assertEquals(book.exclusion("eve", spec.assignWarmup - 1), null, "not before the warm-up");
  run(book, ["a", "eve"], 5 - (spec.assignWarmup - 1), outcome, spec.assignWarmup - 1);
  const e = book.exclusion("eve", 5);
  assertEquals(e?.code, "not-own-data");
  assert(e!.text.startsWith("not shown to train on its assigned data (mean z"), e!.text);
  assertEquals(book.entry("eve").reason, e!.text);
  assertEquals(book.exclusion("a", 5), null, "an unlucky window does not exclude an honest peer");
  assertEquals(book.entry("a").reason, "");
  // By default the threshold is off: the same z values leave nobody out.
  const off = new PeerBook(GAUNTLET_DEFAULTS);
  run(off, ["a", "eve"], 5, outcome);
  assertEquals(off.exclusion("eve", 5), null, "the default measures z but leaves nobody out");
  // Only the last assignWindows count: eve training honestly from now on is let back in.
  run(book, ["a", "eve"], spec.assignWindows, (a) => ({ ...outcome(a, 0), assignZ: 2.5 }), 5);
  assertEquals(book.exclusion("eve", 5 + spec.assignWindows), null);
});

Deno.test("PeerBook.assigned folds a window's z in after its record: out from the next window", () => {
  const book = new PeerBook(spec);
  const deferred: Outcome = { kind: "evaluated", gradScore: 0.01, indicator: null };
  const z = (w: number) => new Map([["a", 2.5], ["eve", w % 2 === 0 ? -0.5 : 0.2]]);
  for (let w = 0; w < spec.assignWarmup; w++) {
    run(book, ["a", "eve"], 1, () => deferred, w);
    // The record of window w is out before its z are known.
    assertEquals(book.exclusion("eve", w), null, `window ${w}`);
    if (w === 0) assertEquals(book.entry("eve").indicatorEma, 0, "no indicator before its test");
    book.assigned(w, z(w));
  }
  const e = book.exclusion("eve", spec.assignWarmup);
  assertEquals(e?.code, "not-own-data");
  assertEquals(book.entry("eve").reason, e!.text);
  assert(book.entry("eve").indicatorEma < 0, "the z's indicator enters the EMA");
  assertEquals(book.exclusion("a", spec.assignWarmup), null);
  assert(book.entry("a").indicatorEma > 0);
  // A peer banned since the window was judged gets nothing: its history started afresh.
  book.equivocated({ address: "a", window: spec.assignWarmup, payloads: ["00", "11"] });
  book.assigned(spec.assignWarmup - 1, new Map([["a", 2.5]]));
  assertEquals(book.entry("a").assignZs, []);
});

Deno.test("PeerBook under the burden of proof: probation until tested, out until the combined z passes", () => {
  const book = new PeerBook({ ...GAUNTLET_DEFAULTS, assignPassZ: 1.645 });
  const deferred: Outcome = { kind: "evaluated", gradScore: 0.01, indicator: null };
  // a: honest (z 2, 1, 2.5, …); eve: trained on other data (z around 0).
  const zs: Record<string, number[]> = { a: [2, 1, 2.5, 0.5, 2], eve: [1.9, -0.4, 0.3, -1, 0.6] };
  const seen: Record<string, (string | null)[]> = { a: [], eve: [] };
  for (let w = 0; w < 5; w++) {
    run(book, ["a", "eve"], 1, () => deferred, w);
    for (const p of ["a", "eve"]) seen[p].push(book.exclusion(p, w)?.text ?? null);
    book.assigned(w, new Map(Object.entries(zs).map(([p, z]) => [p, z[w]])));
  }
  // Window 0: nobody has a test yet, the record goes out without them.
  assertEquals(seen.a[0], "on probation: no assignment test yet");
  assertEquals(seen.eve[0], "on probation: no assignment test yet");
  // a is in from window 1 on: 2/√1, 3/√2, 5.5/√3, 6/√4 all ≥ 1.645.
  assertEquals(seen.a.slice(1), [null, null, null, null]);
  // eve's lucky first z lets her in once (1.9 ≥ 1.645), then (1.5/√2 = 1.06 …) never again.
  assertEquals(seen.eve[1], null);
  for (const t of seen.eve.slice(2)) assert(t?.startsWith("not shown to train on its assigned data (combined z"), `${t}`);
  // Off (0) is today's rule: no probation.
  assertEquals(new PeerBook(GAUNTLET_DEFAULTS).exclusion("newcomer", 0), null);
});

Deno.test("PeerBook sequential admission: a lucky first z no longer lets a key in; a steady one gets in and stays", () => {
  const sprt = { ...GAUNTLET_DEFAULTS, assignPassZ: 1.645, assignSprtMu: 1.5, assignSprtAlpha: 0.05 };
  const book = new PeerBook(sprt);
  const deferred: Outcome = { kind: "evaluated", gradScore: 0.01, indicator: null };
  // The inputs of the burden-of-proof test above: there eve got in at window 1 (1.9 ≥ 1.645).
  const zs: Record<string, number[]> = { a: [2, 1, 2.5, 0.5, 2, 3], eve: [1.9, -0.4, 0.3, -1, 0.6, 2.5] };
  const seen: Record<string, (string | null)[]> = { a: [], eve: [] };
  for (let w = 0; w < 6; w++) {
    run(book, ["a", "eve"], 1, () => deferred, w);
    for (const p of ["a", "eve"]) seen[p].push(book.exclusion(p, w)?.text ?? null);
    book.assigned(w, new Map(Object.entries(zs).map(([p, z]) => [p, z[w]])));
  }
  // Bound ln 20 / 1.5 + 0.75 n = 2.75, 3.50, 4.25, …: a's Σz 2, 3, 5.5 → admitted after 3 tests.
  assertEquals(seen.a[0], "on probation: no assignment test yet");
  assertEquals(seen.a[1], "on probation: not yet shown to train on its assigned data (Σz 2.00 < 2.75 over 1 tests)");
  assert(seen.a[2]?.startsWith("on probation: not yet shown"), `${seen.a[2]}`);
  assertEquals(seen.a.slice(3), [null, null, null]);
  // a's later 0.5 leaves its last-4 combined z at (1 + 2.5 + 0.5 + 2) / 2 = 3: admitted and in.
  assert(book.entry("a").admitted);
  for (const t of seen.eve.slice(1)) assert(t?.startsWith("on probation: not yet shown"), `eve: ${t}`);
  assertEquals(book.entry("eve").admitted, false);
  // Admission survives the book's JSON round trip; a reset (a ban) takes it away.
  const back = PeerBook.fromJSON(sprt, JSON.parse(JSON.stringify(book.toJSON())));
  assertEquals(back.exclusion("a", 6), null);
  back.equivocated({ address: "a", window: 6, payloads: ["00", "11"] });
  assertEquals(back.entry("a").admitted, false);
  assertEquals(back.entry("a").assignSum, 0);
  // A non-finite drop's z bars admission and keeps the book JSON-safe.
  book.assigned(6, new Map([["eve", -Infinity]]));
  assertEquals(book.entry("eve").assignSum, 1.9 - 0.4 + 0.3 - 1 + 0.6 + 2.5 - 1e3);
  assertEquals(PeerBook.fromJSON(sprt, JSON.parse(JSON.stringify(book.toJSON()))).entry("eve").assignZs.at(-1), -1e3);
});

Deno.test("PeerBook.assignmentPick takes probation keys first, then the longest untested, at most the cap", () => {
  const capped = { ...GAUNTLET_DEFAULTS, assignPassZ: 1.645, assignCap: 2 };
  const book = new PeerBook(capped);
  const deferred: Outcome = { kind: "evaluated", gradScore: 0.01, indicator: null };
  const keys = ["a", "b", "c", "d"];
  run(book, keys, 1, () => deferred, 0);
  // Window 0: everyone on probation, never picked: the first two by address.
  assertEquals(book.assignmentPick(keys, 0), ["a", "b"]);
  book.assigned(0, new Map([["a", 3], ["b", 3]])); // both proven (3 ≥ 1.645)
  run(book, keys, 1, () => deferred, 1);
  // c and d are on probation: they go first, though a and b were picked less recently than never.
  assertEquals(book.assignmentPick(keys, 1), ["c", "d"]);
  book.assigned(1, new Map([["c", 0], ["d", 3]])); // c still short of 1.645
  // Window 2: c on probation first, then the longest untested of the proven (a, b: window 0).
  assertEquals(book.assignmentPick(["d", "c", "b", "a"], 2), ["a", "c"]);
  assertEquals(book.assignmentPick(keys, 3), ["b", "c"]);
  // The pick survives the book's JSON round trip (a restarted validator keeps the order).
  const back = PeerBook.fromJSON(capped, JSON.parse(JSON.stringify(book.toJSON())));
  assertEquals(back.assignmentPick(keys, 4), ["c", "d"]);
});

Deno.test("PeerBook.assignmentPick keeps testing a newcomer on probation while fresh keys flood the cap", () => {
  const capped = { ...GAUNTLET_DEFAULTS, assignPassZ: 1.645, assignSprtMu: 1.5, assignCap: 8 };
  const book = new PeerBook(capped);
  const deferred: Outcome = { kind: "evaluated", gradScore: 0.01, indicator: null };
  // Window 0: the honest newcomer is tested once (z 1.2: Σz 1.2 < 2.75, still on probation;
  // it needs 5 such tests: Σz ≥ ln 20 / 1.5 + 0.75 n).
  const first = ["honest", ...Array.from({ length: 7 }, (_, i) => `0-${i}`)];
  run(book, first, 1, () => deferred, 0);
  assertEquals(book.assignmentPick(first, 0).includes("honest"), true);
  const z = (a: string) => a === "honest" ? 1.2 : Number(a.at(-1)) % 2 === 1 ? 1 : -1;
  book.assigned(0, new Map(first.map((a) => [a, z(a)])));
  // From window 1 on, 8 fresh keys a window, addresses ground to sort first, z ±1 when tested:
  // on probation for long, half of them leaning towards admission, as the honest key.
  const tested: number[] = [];
  for (let w = 1; w <= 8; w++) {
    const keys = ["honest", ...Array.from({ length: 8 }, (_, i) => `0${w}-${i}`)];
    run(book, keys, 1, () => deferred, w);
    const picked = book.assignmentPick(keys, w);
    assertEquals(picked.length, 8);
    if (picked.includes("honest")) tested.push(w);
    book.assigned(w, new Map(picked.map((a) => [a, z(a)])));
  }
  // The code before ranked every never-picked key first: the honest key was never tested again
  // (and, on probation, never landed). Half the cap is kept for keys tested before, the
  // longest since their last pick first (ties: first seen) and leaning towards admission: tested
  // again from window 1 on, admitted at its fifth test; proven, it yields its turn, as before.
  assertEquals(tested, [1, 2, 3, 4]);
  assert(book.entry("honest").admitted);
  assertEquals(book.exclusion("honest", 9), null);
});

Deno.test("PeerBook counts the warm-up in indicators received, not evaluations", () => {
  // Past the assignment cap a key is evaluated without an indicator: two +1 in twelve
  // evaluations leave its EMA at 0.0975 (< indicatorMin 0.1), as a fresh key's; it is not zeroed.
  const book = new PeerBook(spec);
  run(book, ["busy", "b", "c"], 12, (a, w) =>
    a === "busy" ? { kind: "evaluated", gradScore: 0.03, indicator: w < 2 ? 1 : null } : good(0.01));
  const e = book.entry("busy");
  assertAlmostEquals(e.indicatorEma, 0.0975, 1e-12);
  assert(book.score("busy", 12) > 0, `score ${book.score("busy", 12)}`);
  assertEquals([e.evaluations, e.indicated], [12, 2]);
  // Past `warmupWindows` indicators the minimum applies: ten alternating ±1 keep the EMA low.
  run(book, ["busy", "b", "c"], 10, (a, w) =>
    a === "busy" ? { kind: "evaluated", gradScore: 0.03, indicator: w % 2 === 0 ? 1 : -1 } : good(0.01), 12);
  assert(book.entry("busy").indicatorEma < spec.indicatorMin);
  assertEquals(book.score("busy", 22), 0);
  // A book written before the count: evaluations stand in (the old warm-up).
  const again = new PeerBook(spec);
  run(again, ["busy", "b", "c"], 12, (a, w) =>
    a === "busy" ? { kind: "evaluated", gradScore: 0.03, indicator: w < 2 ? 1 : null } : good(0.01));
  const old = JSON.parse(JSON.stringify(again));
  for (const [, x] of old.peers) delete x.indicated;
  const back = PeerBook.fromJSON(spec, old);
  assertEquals(back.entry("busy").indicated, 12);
  assertEquals(back.score("busy", 12), 0);
});

Deno.test("PeerBook from a book before Σz: the sequential test goes on from the kept z alone", () => {
  const sprt = { ...GAUNTLET_DEFAULTS, assignPassZ: 1.645, assignSprtMu: 1.5 };
  const book = new PeerBook(sprt);
  const deferred: Outcome = { kind: "evaluated", gradScore: 0.01, indicator: null };
  // A long-lived honest key: z 2 in each of 20 windows.
  for (let w = 0; w < 20; w++) {
    run(book, ["vet", "b"], 1, () => deferred, w);
    book.assigned(w, new Map([["vet", 2], ["b", 2]]));
  }
  assertEquals(book.exclusion("vet", 20), null);
  // Written before Σz and admission: 20 tests, the last 4 z kept. The code before took Σz = 8
  // against the bound after 20 tests (2.00 + 15 = 17.00): on probation for 8 more windows.
  const old = JSON.parse(JSON.stringify(book));
  for (const [, e] of old.peers) delete e.assignSum, delete e.admitted;
  const back = PeerBook.fromJSON(sprt, old);
  // Σz 8 over n 4 ≥ 2.00 + 3.00: admitted as it is loaded, and in.
  assertEquals(back.exclusion("vet", 20), null);
  assert(back.entry("vet").admitted);
  assertEquals([back.entry("vet").assignTests, back.entry("vet").assignSum], [4, 8]);
  // A key whose kept z fall short stays on probation (n and Σ over the same tests).
  old.peers[1][1].assignZs = [0.5, 0.5, 0.5, 0.5];
  const short = PeerBook.fromJSON(sprt, old);
  assertEquals(short.entry("b").admitted, false);
  assertEquals(
    short.exclusion("b", 20)?.text,
    "on probation: not yet shown to train on its assigned data (Σz 2.00 < 5.00 over 4 tests)",
  );
});

Deno.test("PeerBook at margin 0 does not leave out a helpful peer for its indicator alone", () => {
  // Measured on the tiny model: an honest peer's indicator is close to a coin flip at margin
  // 0; three −1 in a row must not exclude it.
  const book = new PeerBook(spec);
  run(book, ["a", "b", "unlucky"], 5, (a) =>
    a === "unlucky" ? { kind: "evaluated", gradScore: 0.01, indicator: -1 } : good());
  assertEquals(book.exclusion("unlucky", 5), null);
  assertEquals(book.entry("unlucky").reason, "");
});

Deno.test("PeerBook copy verdicts halve, reset, or reset and ban the later uploader", () => {
  const book = new PeerBook(spec);
  run(book, ["victim", "c1", "c2", "c3"], 5, () => good());
  const before = book.score("c1", 5);
  book.beginWindow();
  assertEquals(book.copied("c1", "victim", 0.3, 0.2, 5), null);
  book.copied("c1", "victim", 0.45, 0.2, 5);
  assertAlmostEquals(book.score("c1", 5), before * 0.5, 1e-12);
  book.copied("c2", "victim", 0.55, 0.2, 5);
  assertEquals(book.entry("c2").evaluations, 0);
  book.copied("c3", "victim", 0.2, 0.95, 5); // re-noised: the direction gives it away
  const c3 = book.exclusion("c3", 5)!;
  assert(c3.text.startsWith("banned until window 25 (copy of victim…"), c3.text);
  assertEquals([c3.code, c3.until, c3.other], ["copy", 24, "victim"]);
  assertEquals(book.score("c3", 10), 0);
  assertEquals(book.exclusion("c3", 25), null);
});

Deno.test("PeerBook penalises misses and bans a peer absent half of the recent windows", () => {
  const book = new PeerBook(spec);
  run(book, ["a", "b", "flaky"], 4, () => good());
  const full = book.score("flaky", 4);
  run(book, ["a", "b"], 1, () => good(), 4);
  assert(book.score("flaky", 5) <= 0.75 * full + 1e-12, "one miss: ×0.75");
  run(book, ["a", "b"], 2, () => good(), 5);
  assertEquals(book.entry("flaky").reason, "missing 3 windows in a row");
  run(book, ["a", "b"], 1, () => good(), 7);
  const flaky = book.exclusion("flaky", 8)!;
  assert(flaky.text.includes("absent in 4 of the last 8 windows"), flaky.text);
  assertEquals([flaky.code, flaky.other], ["banned", null]);
});

Deno.test("PeerBook logs equivocation evidence and bans the key", () => {
  const book = new PeerBook(spec);
  book.equivocated({ address: "two-face", window: 3, payloads: ["aa", "bb"] });
  assertEquals(book.evidence.length, 1);
  assert(book.exclusion("two-face", 3)!.text.includes("equivocation in window 3"));
});

Deno.test("PeerBook survives a JSON round trip and refuses a damaged one", () => {
  const book = new PeerBook(spec);
  run(book, ["a", "b", "c"], 3, (a) => ({ ...good(a === "a" ? 0.05 : 0.01), assignZ: a === "b" ? 0 : 2 }));
  book.equivocated({ address: "c", window: 3, payloads: ["aa", "bb"] });
  const again = PeerBook.fromJSON(spec, JSON.parse(JSON.stringify(book)));
  for (const a of ["a", "b", "c"]) assertEquals(again.score(a, 4), book.score(a, 4));
  assertEquals(again.evidence, book.evidence);
  assertEquals(again.exclusion("b", 3)?.code, "not-own-data", "the z history is kept");
  // A book written before the assignment test: its z history starts afresh.
  const old = JSON.parse(JSON.stringify(book));
  for (const [, e] of old.peers) delete e.assignZs, delete e.assignTests;
  assertEquals(PeerBook.fromJSON(spec, old).exclusion("b", 3), null);
  const damaged = JSON.parse(JSON.stringify(book));
  damaged.peers[1][1].rating.mu = "high";
  assertThrows(() => PeerBook.fromJSON(spec, damaged), TypeError, "entry b is damaged");
  assertThrows(() => PeerBook.fromJSON(spec, { version: 2 }), TypeError, "not a version 1 book");
});
