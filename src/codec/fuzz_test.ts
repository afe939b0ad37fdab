import { assert, assertEquals } from "../testing/assert.ts";
import { fuzzDecoder, fuzzSeeds } from "./fuzz.ts";

Deno.test("fuzzDecoder: 3000 mutated and random messages decode or throw CodecError", () => {
  const t0 = performance.now();
  const stats = fuzzDecoder({ seed: 20240601, inputs: 3000 });
  const ms = performance.now() - t0;
  assertEquals(stats.failures, []);
  assertEquals(stats.failed, 0);
  assertEquals(stats.inputs, 3000);
  assertEquals(stats.accepted + stats.rejected, 3000);
  assert(stats.accepted > 0 && stats.rejected > 2000, JSON.stringify(stats));
  assert(ms < 5000 && stats.slowestMs < 500, `took ${ms} ms, slowest ${stats.slowestMs} ms`);
});

Deno.test("fuzzDecoder is deterministic for a seed", () => {
  const seeds = fuzzSeeds();
  const a = fuzzDecoder({ seed: 5, inputs: 300, seeds });
  const b = fuzzDecoder({ seed: 5, inputs: 300, seeds });
  assertEquals([a.accepted, a.rejected, a.reasons], [b.accepted, b.rejected, b.reasons]);
});
