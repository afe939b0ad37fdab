import { assert, assertEquals } from "../src/testing/assert.ts";
import { cpuOps } from "../src/backend/cpu_ops.ts";
import { Sampler } from "../src/data/sampler.ts";
import { KeySigner } from "../src/identity/key_signer.ts";
import { identityReady } from "../src/identity/signer.ts";
import { localGenesis } from "../src/protocol/local_genesis.ts";
import { initialParams, runContext } from "../src/protocol/run_context.ts";
import { Rng } from "../src/util/rng.ts";
import { NETWORK_RESERVE, type Share, ShareTrainer } from "./share_trainer.ts";

await identityReady();

Deno.test("ShareTrainer takes the steps its measured speed fits in a window, not H", async () => {
  const ctx = runContext(localGenesis({
    validators: [KeySigner.fromUri("//Alice").address],
    genesisTime: 1_700_000_000_000,
    windowMs: 2_000,
    sparseloco: { H: 1000 },
    data: { batch: 1 },
  }));
  const rng = new Rng(7);
  const tokens = Uint32Array.from({ length: 20_000 }, () => rng.int(256));
  const g = ctx.genesis;
  const sampler = new Sampler(tokens, { batch: 1, context: g.model.context, seed: g.data.seed });
  const shares: Share[] = [];
  const t = new ShareTrainer(ctx, cpuOps(32), sampler, 3, (s) => shares.push(s));
  const bench = await t.benchmark(initialParams(ctx));
  assertEquals(bench.from, "benchmark");
  assert(bench.stepMs > 0 && bench.compressMs > 0, JSON.stringify(bench));
  const fits = Math.floor((2_000 * (1 - NETWORK_RESERVE) - bench.compressMs) / bench.stepMs);
  assertEquals(bench.steps, Math.max(1, Math.min(1000, fits)));
  assert(bench.steps < 1000, `a tiny step on the CPU is not 1.7 ms: ${JSON.stringify(bench)}`);
  // A far deadline: the share, not the window's end, stops it.
  const r = await t.train(initialParams(ctx), 1, Date.now() + 600_000);
  assertEquals(shares[0], bench);
  assertEquals(r.steps, bench.steps);
  assertEquals(t.share().from, "measured");
  // A window already over: no step (the peer then announces nothing).
  const late = await t.train(initialParams(ctx), 2, Date.now() - 1);
  assertEquals(late.steps, 0);
});
