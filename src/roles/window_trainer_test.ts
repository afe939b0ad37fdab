import { assertEquals } from "../testing/assert.ts";
import { cpuOps } from "../backend/cpu_ops.ts";
import { Sampler } from "../data/sampler.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { initialParams, runContext } from "../protocol/run_context.ts";
import { loadRunData } from "../cli/run_data.ts";
import { tailMs, type WindowResult, WindowTrainer } from "./window_trainer.ts";

Deno.test("WindowTrainer reports when its loop ended, on the clock it checks its deadline by", async () => {
  await identityReady();
  const g = localGenesis({
    validators: [KeySigner.fromUri("//Validator").address],
    genesisTime: 0,
    sparseloco: { H: 2 },
  });
  const ctx = runContext(g);
  const data = await loadRunData(g, "local");
  const sampler = Sampler.ofRun(data.train, g);
  const trainer = new WindowTrainer(ctx, cpuOps(32), sampler, 0, { yields: false });
  // A fake clock: a second per step.
  let clock = 50_000;
  const res = await trainer.train(
    initialParams(ctx),
    0,
    Infinity,
    () => clock += 1_000,
    () => clock,
  );
  assertEquals([res.steps, res.endedAt], [2, 52_000]);
});

Deno.test("tailMs counts only what follows the loop, at most a quarter of a window", () => {
  // A window on a loaded machine: θ loaded in 1.5 s and 30 yields of 20 ms before and between
  // the steps (all on the clock the loop checks), then 0.3 s to compress and encode.
  const start = 100_000, steps = 30, stepMs = 200;
  const endedAt = start + 1_500 + steps * (stepMs + 20);
  const res: WindowResult = {
    steps,
    meanLoss: 1,
    seconds: steps * stepMs / 1000,
    lastStepMs: stepMs,
    endedAt,
  };
  const readyAt = endedAt + 300;
  // The time outside steps from the loop's start to the update is 2.4 s; the tail is 0.3 s.
  assertEquals(readyAt - start - res.seconds * 1000, 2_400);
  assertEquals(tailMs(res, readyAt, 20_000), 300);
  assertEquals(tailMs(res, readyAt + 10_000, 20_000), 5_000, "capped");
  assertEquals(tailMs(res, endedAt - 5, 20_000), 0);
});
