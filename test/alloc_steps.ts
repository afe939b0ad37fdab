/**
 * Runs 100 training steps and prints what the runtime created after step 1 and after step 100 as
 * `ALLOC_JSON {...}` (test/train_test.ts checks them). A `deno run` script: Dawn's mapAsync can
 * stall for minutes inside `deno test` workers.
 */
import { openRuntime } from "../src/kernels/open_runtime.ts";
import { gpuOps } from "../src/backend/gpu_ops.ts";
import { Llama } from "../src/model/llama.ts";
import { initParams } from "../src/model/init.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { Trainer } from "../src/train/trainer.ts";
import { loadCorpus } from "../src/data/load_corpus.ts";
import { ByteTokenizer } from "../src/data/byte_tokenizer.ts";
import { Sampler } from "../src/data/sampler.ts";

const CONFIG: ModelConfig = {
  vocabSize: 256, dModel: 32, nLayers: 1, nHeads: 4, nKvHeads: 2, ffnHidden: 64,
  context: 16, ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true,
};

const rt = await openRuntime();
const corpus = await loadCorpus([], new ByteTokenizer());
const ops = gpuOps(rt);
const model = new Llama(ops, CONFIG, 2, 16);
ops.write(model.params, initParams(model.layout, CONFIG, 1));
const trainer = new Trainer(ops, model);
const sampler = new Sampler(corpus.tokens, { batch: 2, context: 16, seed: 1 });
const step = async (i: number) => {
  const { inputs, targets } = sampler.batch(0, 0, i);
  await trainer.train(inputs, targets, 1e-3);
};
await step(0);
const after1 = { ...rt.stats };
for (let i = 1; i < 100; i++) await step(i);
console.log(`ALLOC_JSON ${JSON.stringify({ after1, after100: rt.stats })}`);
Deno.exit(0);
