import { assert, assertEquals, assertNotEquals, assertThrows } from "../testing/assert.ts";
import { DataError } from "./errors.ts";
import { Sampler, splitTokens } from "./sampler.ts";

// Token i has value i, so a sequence's values reveal where it was drawn from.
const ramp = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);

Deno.test("Sampler batch has B sequences of consecutive tokens, targets shifted by one", () => {
  const B = 4, T = 16;
  const s = new Sampler(ramp(1000), { batch: B, context: T, seed: 1 });
  const { inputs, targets } = s.batch(3, 5, 7);
  assertEquals(inputs.length, B * T);
  assertEquals(targets.length, B * T);
  for (let b = 0; b < B; b++) {
    const off = inputs[b * T];
    assert(off + T < 1000, "sequence runs past the end");
    for (let t = 0; t < T; t++) {
      assertEquals(inputs[b * T + t], off + t);
      assertEquals(targets[b * T + t], off + t + 1);
    }
  }
});

Deno.test("Sampler batch is a pure function of seed, peer, window and step", () => {
  const tokens = ramp(5000);
  const a = new Sampler(tokens, { batch: 8, context: 32, seed: 42 });
  const b = new Sampler(tokens.slice(), { batch: 8, context: 32, seed: 42 });
  assertEquals(a.batch(1, 2, 3), b.batch(1, 2, 3));
  assertEquals(a.batch(1, 2, 3), a.batch(1, 2, 3));
  for (const other of [a.batch(2, 2, 3), a.batch(1, 3, 3), a.batch(1, 2, 4)]) {
    assertNotEquals(other.inputs, a.batch(1, 2, 3).inputs);
  }
  const c = new Sampler(tokens, { batch: 8, context: 32, seed: 43 });
  assertNotEquals(c.batch(1, 2, 3).inputs, a.batch(1, 2, 3).inputs);
});

Deno.test("Sampler batch offsets are pinned across runtimes", () => {
  // Golden values, also computed by an independent Python port of Rng and mixSeed: a change
  // here changes every peer's assigned data.
  const s = new Sampler(ramp(1_000_000), { batch: 4, context: 8, seed: 1234 });
  const starts = (x: { inputs: Uint32Array }) => [0, 1, 2, 3].map((b) => x.inputs[b * 8]);
  assertEquals(starts(s.batch(0, 0, 0)), GOLDEN_BATCH);
  assertEquals(starts(s.evalBatch(0)), GOLDEN_EVAL);
});
const GOLDEN_BATCH = [400009, 317704, 569114, 230326];
const GOLDEN_EVAL = [686629, 276289, 150945, 78404];

Deno.test("Sampler batch covers the whole corpus, including both ends", () => {
  const T = 4;
  const s = new Sampler(ramp(T + 3), { batch: 64, context: T, seed: 9 });
  const seen = new Set<number>();
  for (let step = 0; step < 10; step++) {
    const { inputs } = s.batch(0, 0, step);
    for (let b = 0; b < 64; b++) seen.add(inputs[b * T]);
  }
  // N - T = 3 possible offsets: 0, 1, 2.
  assertEquals([...seen].sort(), [0, 1, 2]);
});

Deno.test("Sampler evalBatch is fixed and distinct from training batches", () => {
  const s = new Sampler(ramp(100_000), { batch: 4, context: 16, seed: 5 });
  assertEquals(s.evalBatch(), s.evalBatch(0));
  assertNotEquals(s.evalBatch(0).inputs, s.evalBatch(1).inputs);
  assertNotEquals(s.evalBatch(0).inputs, s.batch(0, 0, 0).inputs);
});

Deno.test("Sampler rejects a corpus shorter than T+1 tokens", () => {
  assertEquals(
    assertThrows(() => new Sampler(ramp(64), { batch: 1, context: 64, seed: 0 }), DataError)
      .message,
    "corpus has 64 tokens, need at least 65 for context 64",
  );
  new Sampler(ramp(65), { batch: 1, context: 64, seed: 0 }).batch(0, 0, 0);
});

Deno.test("Sampler rejects invalid options and arguments", () => {
  const tokens = ramp(100);
  assertEquals(
    assertThrows(() => new Sampler(tokens, { batch: 0, context: 8, seed: 0 }), DataError).message,
    "batch must be an integer ≥ 1, got 0",
  );
  assertEquals(
    assertThrows(() => new Sampler(tokens, { batch: 1, context: 1.5, seed: 0 }), DataError).message,
    "context must be an integer ≥ 1, got 1.5",
  );
  assertEquals(
    assertThrows(() => new Sampler(tokens, { batch: 1, context: 8, seed: -1 }), DataError).message,
    "seed must be an integer in [0, 2^32), got -1",
  );
  const s = new Sampler(tokens, { batch: 1, context: 8, seed: 0 });
  assertThrows(() => s.batch(-1, 0, 0), RangeError);
  assertThrows(() => s.batch(0, 2 ** 32, 0), RangeError);
  assertThrows(() => s.batch(0, 0, 0.5), RangeError);
});

Deno.test("splitTokens keeps the last fraction for validation", () => {
  const tokens = ramp(1000);
  const { train, valid } = splitTokens(tokens);
  assertEquals([train.length, valid.length], [900, 100]);
  assertEquals([train[899], valid[0], valid[99]], [899, 900, 999]);
  assertEquals(train.buffer, tokens.buffer); // views, not copies
  const none = splitTokens(tokens, 0);
  assertEquals([none.train.length, none.valid.length], [1000, 0]);
  assertEquals(splitTokens(ramp(15), 0.1).valid.length, 1);
  assertThrows(() => splitTokens(tokens, 1), RangeError);
  assertThrows(() => splitTokens(tokens, -0.1), RangeError);
});

Deno.test("Sampler span mode draws a peer's batches of a window from one stretch, pinned", () => {
  const N = 1_000_000, T = 8, span = 4096;
  const s = new Sampler(ramp(N), { batch: 4, context: T, seed: 1234, span });
  const starts = (x: { inputs: Uint32Array }) => [0, 1, 2, 3].map((b) => x.inputs[b * T]);
  for (const [peer, w] of [[0, 0], [7, 3]]) {
    const from = s.spanStart(peer, w);
    assert(from >= 0 && from + span <= N, `span at ${from}`);
    for (let step = 0; step < 20; step++) {
      for (const off of starts(s.batch(peer, w, step))) {
        assert(
          off >= from && off + T + 1 <= from + span,
          `offset ${off} outside [${from}, +${span})`,
        );
      }
    }
  }
  assertNotEquals(s.spanStart(0, 0), s.spanStart(0, 1));
  assertNotEquals(s.spanStart(0, 0), s.spanStart(1, 0));
  // Golden values (also from an independent Python port of Rng and mixSeed): a change here
  // changes every span-mode peer's assigned data.
  assertEquals([s.spanStart(0, 0), ...starts(s.batch(0, 0, 0))], GOLDEN_SPAN);
  // The evaluation batches are not confined to a span.
  assertEquals(starts(s.evalBatch(0)), GOLDEN_EVAL);
});
const GOLDEN_SPAN = [613483, 615118, 614781, 615809, 614424];

Deno.test("Sampler span mode covers its whole span and takes a span past the stream as the stream", () => {
  const T = 4;
  const s = new Sampler(ramp(T + 3), { batch: 64, context: T, seed: 9, span: 1000 });
  assertEquals(s.span, T + 3);
  assertEquals(s.spanStart(0, 0), 0);
  const seen = new Set<number>();
  for (let step = 0; step < 10; step++) {
    const { inputs } = s.batch(0, 0, step);
    for (let b = 0; b < 64; b++) seen.add(inputs[b * T]);
  }
  assertEquals([...seen].sort(), [0, 1, 2]);
  assertEquals(
    assertThrows(
      () => new Sampler(ramp(100), { batch: 1, context: 8, seed: 0, span: 8 }),
      DataError,
    )
      .message,
    "span must be an integer ≥ context + 1 (9), got 8",
  );
  assertThrows(
    () => new Sampler(ramp(100), { batch: 1, context: 8, seed: 0 }).spanStart(0, 0),
    RangeError,
  );
});
