/**
 * End-to-end checks of the LLaMA model in the style of llm.c's test_gpt2: the GPU forward and
 * backward against the TypeScript reference, the reference against finite differences, and
 * AdamW trajectories side by side.
 */
import { GPU_TEST, testRuntime } from "./gpu.ts";
import { gpuOps } from "../src/backend/gpu_ops.ts";
import { cpuOps } from "../src/backend/cpu_ops.ts";
import type { Ops } from "../src/backend/ops.ts";
import { Llama } from "../src/model/llama.ts";
import { initParams } from "../src/model/init.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { Trainer } from "../src/train/trainer.ts";
import { Rng } from "../src/util/rng.ts";
import { compare, formatResult } from "./kernels/check.ts";
import { assertGrad, checkGradient } from "./fd.ts";

const TINY: ModelConfig = {
  vocabSize: 37, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnHidden: 40,
  context: 16, ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true,
};
const UNTIED: ModelConfig = { ...TINY, tiedEmbeddings: false, nKvHeads: 1, vocabSize: 70 };
const B = 2, T = 12;

function batch(c: ModelConfig, seed: number) {
  const rng = new Rng(seed);
  const inputs = new Uint32Array(B * T).map(() => rng.int(c.vocabSize));
  const targets = new Uint32Array(B * T).map(() => rng.int(c.vocabSize));
  return { inputs, targets };
}

function build<Tn>(ops: Ops<Tn>, c: ModelConfig, seed: number, params?: Float32Array, gain = 5) {
  const model = new Llama(ops, c, B, T);
  // By default a larger init than training uses, so that every path carries signal to compare.
  const p = params ?? initParams(model.layout, c, seed).map((x, i) => x * gain + (i % 7 === 0 ? 0.01 : 0));
  ops.write(model.params, p);
  return { model, params: p };
}

const rt = await testRuntime();

for (const [label, c] of [["tied", TINY], ["untied GQA 4:1", UNTIED]] as const) {
  Deno.test({
    name: `llama GPU logits, loss and every gradient match the reference (${label})`,
    ...GPU_TEST,
    async fn() {
      const { inputs, targets } = batch(c, 1);
      const cpu = cpuOps(), gpu = gpuOps(rt);
      const ref = build(cpu, c, 3);
      const dev = build(gpu, c, 3, ref.params);
      for (const m of [ref.model, dev.model] as Llama<unknown>[]) {
        m.setBatch(inputs, targets);
        m.ops.zero(m.grads);
      }
      const refLogits = ref.model.forward() as Float32Array;
      ref.model.backward();
      const devLogits = dev.model.forward();
      dev.model.backward();
      const shape = `B=${B} T=${T} ${label}`;
      const results = [
        compare("llama", shape, "logits", await gpu.read(devLogits), refLogits, 1e-4, 1e-3),
        compare("llama", shape, "loss", [await dev.model.meanLoss()], [await ref.model.meanLoss()], 1e-5, 1e-5),
      ];
      const devGrads = await gpu.read(dev.model.grads);
      const refGrads = ref.model.grads as Float32Array;
      for (const e of ref.model.layout.entries) {
        const s = (a: Float32Array) => a.subarray(e.offset, e.offset + e.size);
        results.push(compare("llama", shape, `grad ${e.name}`, s(devGrads), s(refGrads), 1e-5, 2e-3));
      }
      const bad = results.filter((r) => !r.ok);
      if (bad.length > 0) throw new Error(bad.map(formatResult).join("\n"));
    },
  });
}

Deno.test("llama reference gradients match finite differences (float64)", async () => {
  const c: ModelConfig = { ...UNTIED, dModel: 16, nHeads: 2, nKvHeads: 1, ffnHidden: 20, vocabSize: 13 };
  const ops = cpuOps(64);
  const { model } = build(ops, c, 5);
  const { inputs, targets } = batch(c, 2);
  model.setBatch(inputs, targets);
  ops.zero(model.grads);
  model.forward();
  model.backward();
  const params = model.params as Float64Array;
  const grads = Float64Array.from(model.grads as Float64Array);
  const loss = () => {
    model.forward();
    const l = model.losses as Float64Array;
    return l.reduce((a, b) => a + b, 0) / l.length;
  };
  for (const e of model.layout.entries) {
    const view = params.subarray(e.offset, e.offset + e.size);
    const r = checkGradient(view, grads.subarray(e.offset, e.offset + e.size), loss, {
      eps: 1e-6, atol: 1e-8, rtol: 1e-5, samples: 6, seed: e.offset + 1,
    });
    assertGrad(`llama d${e.name}`, r);
  }
  await Promise.resolve();
});

Deno.test({
  name: "llama 10 AdamW steps follow the reference loss trajectory",
  ...GPU_TEST,
  async fn() {
    const cpu = cpuOps(), gpu = gpuOps(rt);
    // The training init and a modest rate: AdamW turns float noise in near-zero gradients into
    // ±lr steps, so a large rate makes any two float implementations drift apart chaotically.
    const ref = build(cpu, TINY, 9, undefined, 1), dev = build(gpu, TINY, 9, ref.params);
    const tRef = new Trainer(cpu, ref.model), tDev = new Trainer(gpu, dev.model);
    const refLosses: number[] = [], devLosses: number[] = [];
    for (let s = 0; s < 10; s++) {
      const { inputs, targets } = batch(TINY, 100 + (s % 3));
      refLosses.push((await tRef.train(inputs, targets, 1e-3)).loss);
      devLosses.push((await tDev.train(inputs, targets, 1e-3)).loss);
    }
    const r = compare("llama adamw", "10 steps", "loss", devLosses, refLosses, 1e-4, 1e-3);
    if (!r.ok) throw new Error(`${formatResult(r)}\nref ${refLosses.join(" ")}\ngpu ${devLosses.join(" ")}`);
    if (!(refLosses[9] < refLosses[0])) throw new Error(`loss did not fall: ${refLosses.join(" ")}`);
  },
});
