import { assert, assertEquals } from "../testing/assert.ts";
import { GAUNTLET_DEFAULTS } from "../protocol/gauntlet_spec.ts";
import type { LossCheckResult } from "./loss_check.ts";
import { PeerBook } from "./peer_book.ts";
import { evaluationOrder, sampleForEvaluation, selectContributors } from "./select.ts";

const spec = { ...GAUNTLET_DEFAULTS };
const cands = (n: number) => Array.from({ length: n }, (_, i) => ({ address: `p${i}`, arrival: i }));
const result = (gradScore: number, indicator: 1 | -1 = 1): LossCheckResult => ({ gradScore, ownDrop: gradScore * 2, indicator });

Deno.test("sampleForEvaluation takes everyone within the budget and a seeded sample beyond", () => {
  const book = new PeerBook(spec);
  assertEquals(sampleForEvaluation(cands(5), book, 0, spec, 1), ["p0", "p1", "p2", "p3", "p4"]);
  const many = cands(100);
  const a = sampleForEvaluation(many, book, 7, spec, 1);
  assertEquals(a.length, 20);
  assertEquals(new Set(a).size, 20);
  assertEquals(sampleForEvaluation(many, book, 7, spec, 1), a, "deterministic for a window");
  const draws = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((w) => sampleForEvaluation(many, book, w, spec, 1)[0]));
  assert(draws.size > 1, "different windows draw different bins");
});

Deno.test("sampleForEvaluation favours the longest unevaluated peers of the drawn bin", () => {
  const book = new PeerBook(spec);
  const many = cands(100);
  // Everyone equally rated; half were evaluated last window.
  for (let i = 0; i < 100; i += 2) book.entry(`p${i}`).lastEvaluated = 9;
  const got = sampleForEvaluation(many, book, 10, spec, 3);
  const fresh = got.filter((a) => Number(a.slice(1)) % 2 === 1).length;
  assert(fresh >= 10, `${fresh} of 20 never evaluated: ${got}`);
});

Deno.test("evaluationOrder takes every candidate once, and its head is the budget's sample", () => {
  const book = new PeerBook(spec);
  const many = cands(100);
  for (let i = 0; i < 100; i += 3) book.entry(`p${i}`).lastEvaluated = 4;
  for (const w of [5, 6, 7]) {
    const order = evaluationOrder(many, book, w, spec, 1);
    assertEquals([...order].sort(), many.map((c) => c.address).sort());
    assertEquals(order.slice(0, spec.evalBudget), sampleForEvaluation(many, book, w, spec, 1));
    assertEquals(order.slice(0, 7), sampleForEvaluation(many, book, w, { ...spec, evalBudget: 7 }, 1));
  }
});

Deno.test("selectContributors admits only evaluated, passing, unexcluded updates, best first", () => {
  const book = new PeerBook(spec);
  const c = cands(7);
  book.ban("p5", 0, "equivocation in window 0");
  const results = new Map([
    ["p0", result(0.02)],
    ["p1", result(0.03)],
    ["p2", result(-0.4)], // garbage, sign-flipped: hurts
    ["p3", result(0.0005)], // near-zero free-rider
    ["p4", result(0.025)],
    ["p5", result(0.05)], // banned, however good
  ]);
  book.closeWindow(0, new Map([...results].map(([a, r]) => [a, { kind: "evaluated" as const, ...r }])));
  const s = selectContributors(c, results, book, 0, 2, spec);
  assertEquals(s.selected, ["p1", "p4"]);
  assertEquals(s.reserves, ["p0"]);
  assertEquals(s.leftOut.get("p2")?.code, "negative-score");
  assertEquals(s.leftOut.get("p3")?.code, "small-gain");
  assert(s.leftOut.get("p5")!.text.startsWith("banned until window 20"), s.leftOut.get("p5")!.text);
  assertEquals(s.leftOut.get("p5")!.until, 19);
  assertEquals(s.leftOut.get("p6")?.text, "not evaluated");
});
