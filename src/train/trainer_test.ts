import { cpuOps } from "../backend/cpu_ops.ts";
import { Sampler } from "../data/sampler.ts";
import { type ModelConfig, PRESETS } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { Llama } from "../model/llama.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { Trainer } from "./trainer.ts";

/** The tiny preset shrunk further: a CPU forward pass in milliseconds. */
const MICRO: ModelConfig = {
  ...PRESETS.tiny,
  ...{ dModel: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, ffnHidden: 32, context: 8 },
};

Deno.test("Trainer validationLoss is the mean loss of the first validation batches", async () => {
  const ops = cpuOps(32);
  const model = new Llama(ops, MICRO, 2, MICRO.context);
  const theta = initParams(model.layout, MICRO, 3);
  ops.write(model.params, theta);
  const trainer = new Trainer(ops, model);
  const tokens = Uint32Array.from({ length: 500 }, (_, i) => (i * 7 + (i >> 3)) % 256);
  const valid = new Sampler(tokens, { batch: 2, context: MICRO.context, seed: 5 });

  const losses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const { inputs, targets } = valid.evalBatch(i);
    losses.push(await trainer.evaluate(inputs, targets));
  }
  assert(losses[0] !== losses[1], "the batches differ, so the mean depends on which are used");
  assertEquals(await trainer.validationLoss(valid, 3), (losses[0] + losses[1] + losses[2]) / 3);
  assertEquals(await trainer.validationLoss(valid, 1), losses[0]);
  assertEquals(await ops.read(model.params), theta, "the parameters are untouched");
});
