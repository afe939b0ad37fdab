/** Local training on the shipped corpus: the loss falls, and steady-state steps allocate nothing. */
import { GPU_TEST, testRuntime } from "./gpu.ts";
import { gpuOps } from "../src/backend/gpu_ops.ts";
import { Llama } from "../src/model/llama.ts";
import { initParams } from "../src/model/init.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { Trainer } from "../src/train/trainer.ts";
import { loadCorpus } from "../src/data/load_corpus.ts";
import { ByteTokenizer } from "../src/data/byte_tokenizer.ts";
import { Sampler } from "../src/data/sampler.ts";

const rt = await testRuntime();
const corpus = await loadCorpus([], new ByteTokenizer());

const SMALL: ModelConfig = {
  vocabSize: 256, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnHidden: 64,
  context: 32, ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true,
};

// Run as a separate `deno run`: Dawn's mapAsync can stall for minutes inside `deno test`
// workers (see README), and this is the longest GPU loop of the suite.
Deno.test("trainLocal loss falls clearly on the shipped corpus from a fixed seed", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "test/browser/deno_losses.ts", "--preset", "tiny", "--steps", "60", "--seed", "3", "--batch", "4", "--warmup", "10"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("LOSSES_JSON "));
  if (out.code !== 0 || !line) {
    throw new Error(`training run failed (exit ${out.code}):\n${text}\n${new TextDecoder().decode(out.stderr)}`);
  }
  const losses: number[] = JSON.parse(line.slice("LOSSES_JSON ".length)).losses;
  if (losses.length !== 60) throw new Error(`expected 60 losses, got ${losses.length}`);
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const start = mean(losses.slice(0, 5)), end = mean(losses.slice(-10));
  // A byte model starts near ln 256 ≈ 5.5; learning English letter statistics takes it below 3.2.
  if (!(start > 5 && end < 3.2)) {
    throw new Error(`loss went ${start.toFixed(3)} → ${end.toFixed(3)} (want > 5 → < 3.2): ${losses.map((l) => l.toFixed(2)).join(" ")}`);
  }
});

Deno.test({
  name: "trainer steps allocate no GPU buffers or pipelines after the first",
  ...GPU_TEST,
  async fn() {
    const ops = gpuOps(rt);
    const model = new Llama(ops, { ...SMALL, nLayers: 1, context: 16 }, 2, 16);
    ops.write(model.params, initParams(model.layout, model.config, 1));
    const trainer = new Trainer(ops, model);
    const sampler = new Sampler(corpus.tokens, { batch: 2, context: 16, seed: 1 });
    const step = async (i: number) => {
      const { inputs, targets } = sampler.batch(0, 0, i);
      return await trainer.train(inputs, targets, 1e-3);
    };
    await step(0);
    const after1 = { ...rt.stats };
    for (let i = 1; i < 100; i++) await step(i);
    const after100 = rt.stats;
    if (after100.dispatches <= after1.dispatches) throw new Error("no work was dispatched");
    if (after100.buffersCreated !== after1.buffersCreated || after100.pipelinesCreated !== after1.pipelinesCreated) {
      throw new Error(
        `steps 2..100 created ${after100.buffersCreated - after1.buffersCreated} buffers and ` +
          `${after100.pipelinesCreated - after1.pipelinesCreated} pipelines`,
      );
    }
  },
});
