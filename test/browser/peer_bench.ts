/**
 * The peer's inner steps alone, timed the same way in Deno and in Chromium: one window of H
 * steps of the run the browser spec uses (tiny model, batch 2, the default corpus, the CPU
 * reference), after a warm-up window, and the SparseLoCo compression that follows. Runtime-
 * neutral; test/browser/bench.spec.ts runs it here and in dist/bench.html, one at a time.
 *
 * ```sh
 * deno run -A test/browser/peer_bench.ts [--steps 8]   # prints one JSON line
 * ```
 *
 * @module
 */

import { cpuOps } from "../../src/backend/cpu_ops.ts";
import { ByteTokenizer } from "../../src/data/byte_tokenizer.ts";
import { fetchDefaultCorpus } from "../../src/data/corpus.ts";
import { Sampler, splitTokens } from "../../src/data/sampler.ts";
import { localGenesis } from "../../src/protocol/local_genesis.ts";
import { initialParams, runContext } from "../../src/protocol/run_context.ts";
import { WindowTrainer } from "../../src/roles/window_trainer.ts";

/** One timed window. */
export interface PeerBenchResult {
  /** Inner steps timed. */
  steps: number;
  /** Training tokens per second over those steps. */
  tokensPerSecond: number;
  /** Seconds per inner step. */
  stepSeconds: number;
  /** Seconds to compress the window's Δ (SparseLoCo, error feedback included). */
  compressSeconds: number;
}

/** Any valid SS58 address (//Alice): the genesis needs a validator, the bench none. */
const SOME_VALIDATOR = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

/** Trains a warm-up window, then times window 1 of `steps` inner steps and its compression. */
export async function benchPeerWindow(steps: number): Promise<PeerBenchResult> {
  const genesis = localGenesis({
    validators: [SOME_VALIDATOR],
    genesisTime: 0,
    sparseloco: { H: steps },
    data: { batch: 2 },
  });
  const ctx = runContext(genesis);
  const { tokens } = await fetchDefaultCorpus(new ByteTokenizer());
  const sampler = new Sampler(splitTokens(tokens, genesis.data.validFraction).train, {
    batch: genesis.data.batch,
    context: genesis.model.context,
    seed: genesis.data.seed,
  });
  const trainer = new WindowTrainer(ctx, cpuOps(32), sampler, 0);
  const theta = initialParams(ctx);
  await trainer.train(theta, 0, Infinity);
  await trainer.compress();
  const r = await trainer.train(theta, 1, Infinity);
  const t0 = performance.now();
  await trainer.compress();
  const compressSeconds = (performance.now() - t0) / 1000;
  return {
    steps: r.steps,
    tokensPerSecond: r.steps * genesis.data.batch * genesis.model.context / r.seconds,
    stepSeconds: r.seconds / r.steps,
    compressSeconds,
  };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--steps");
  console.log(JSON.stringify(await benchPeerWindow(i < 0 ? 8 : Number(Deno.args[i + 1]))));
}
