/**
 * The simulation harness on the CPU reference backend (`cpuOps(32)`, what `--backend cpu`
 * runs): a micro model, a few rounds, checked for the invariants the comparison relies on.
 */
import { cpuOps } from "../backend/cpu_ops.ts";
import type { ModelConfig } from "../model/config.ts";
import { assert, assertAlmostEquals, assertEquals } from "../testing/assert.ts";
import { simulate, SIMULATE_DEFAULTS, type SimulateOptions } from "./simulate.ts";

const MICRO: ModelConfig = {
  vocabSize: 256,
  dModel: 16,
  nLayers: 1,
  nHeads: 2,
  nKvHeads: 1,
  ffnHidden: 32,
  context: 16,
  ropeTheta: 10000,
  normEps: 1e-5,
  tiedEmbeddings: true,
};

/** A deterministic byte stream with some structure to learn. */
function corpus(n = 20_000): Uint32Array {
  const text = "the quick brown fox jumps over the lazy dog. ";
  return Uint32Array.from({ length: n }, (_, i) => text.charCodeAt(i % text.length));
}

function options(over: Partial<SimulateOptions>): SimulateOptions {
  return {
    ...SIMULATE_DEFAULTS,
    model: MICRO,
    replicas: 2,
    H: 2,
    rounds: 3,
    batch: 1,
    warmup: 2,
    evalBatches: 2,
    ...over,
  };
}

Deno.test("simulate (cpu backend): every method, equal tokens, both index modes agree", async () => {
  const opts = options({});
  const out = await simulate(cpuOps(32), corpus(), opts);
  assertEquals(out.results.map((r) => r.method), opts.methods);
  const tokens = out.results[0].tokens;
  for (const r of out.results) {
    assertEquals(r.validLoss.length, opts.rounds + 1);
    assertEquals(r.tokens, tokens, `${r.method} saw other token counts`);
    assert(r.validLoss.every(Number.isFinite), `${r.method}: non-finite loss`);
    assertEquals(r.validLoss[0], out.results[0].validLoss[0], "same initial model");
  }
  assertEquals(
    tokens[opts.rounds],
    opts.rounds * opts.H * opts.replicas * opts.batch * MICRO.context,
  );
  const [packed, compact] = [out.results[2], out.results[3]];
  assertEquals(compact.validLoss, packed.validLoss, "index modes must train identically");
  assert(compact.bytesPerPeerRound! < packed.bytesPerPeerRound!, "Golomb–Rice indices are smaller");
  assertEquals(out.results[1].bytesPerPeerRound, out.denseBytes);
});

Deno.test("simulate (cpu backend): DiLoCo with one replica and α = 1 is centralized AdamW", async () => {
  const out = await simulate(
    cpuOps(32),
    corpus(),
    options({ replicas: 1, methods: ["centralized", "diloco"] }),
  );
  const [central, diloco] = out.results;
  for (let i = 0; i < central.validLoss.length; i++) {
    assertAlmostEquals(diloco.validLoss[i], central.validLoss[i], 1e-4, `round ${i}`);
  }
  assert(central.validLoss[3] < central.validLoss[0], "the micro model learns");
});

Deno.test("simulate (cpu backend): iid replicas draw from the whole split, other data", async () => {
  const methods: SimulateOptions["methods"] = ["centralized", "diloco"];
  const shards = await simulate(cpuOps(32), corpus(), options({ methods, rounds: 1 }));
  const iid = await simulate(cpuOps(32), corpus(), options({ methods, rounds: 1, iid: true }));
  for (const i of [0, 1]) {
    assertEquals(iid.results[i].tokens, shards.results[i].tokens);
    assertEquals(iid.results[i].validLoss[0], shards.results[i].validLoss[0]);
    assert(iid.results[i].validLoss[1] !== shards.results[i].validLoss[1], "other batches");
  }
});

Deno.test("simulate (cpu backend): the delayed outer step lags one round, flushed it is the undelayed one", async () => {
  const methods: SimulateOptions["methods"] = ["sparseloco", "sparseloco-delayed"];
  const one = await simulate(cpuOps(32), corpus(), options({ methods, rounds: 1 }));
  const [undelayed, delayed] = one.results;
  // Round 0's aggregate is still pending: θ_1 = θ_0.
  assertEquals(delayed.validLoss, [undelayed.validLoss[0], undelayed.validLoss[0]]);
  // Applied at the end, it is exactly round 0's undelayed step (same base, same updates).
  assertEquals(delayed.flushedValidLoss, undelayed.validLoss[1]);
  assertEquals(undelayed.flushedValidLoss, undefined, "only the delayed run has one pending");
  const three = await simulate(cpuOps(32), corpus(), options({ methods }));
  const d3 = three.results[1].validLoss;
  assert(d3[2] !== d3[1] && d3[3] !== d3[2], `the delayed run moves from round 2 on: ${d3}`);
  assert(three.results[1].validLoss[3] !== three.results[0].validLoss[3], "and differs");
});
