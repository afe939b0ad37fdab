/**
 * f16 against f32 training on one preset (`deno task bench:f16train`; also what
 * src/backend/gpu_ops_f16_test.ts runs, shorter): the same local run — seed, batches, learning
 * rates — three times on one device: on `gpuOps` (f32), on `gpuOpsF16` (every matmul's operands
 * rounded to f16, f32 sums and f32 master weights) and on `gpuOpsF16` with `activations` (the
 * matmuls' input activations written as packed f16 by the kernels that produce them), with how
 * far each f16 run's losses drift from f32, its step time and its activation memory
 * (src/model/memory.ts). Prints `F16_TRAIN_JSON {...}` as the last stdout line; `--out FILE`
 * also writes it.
 *
 *   deno run -A --unstable-webgpu bench/f16_training.ts [--backend wgpu] [--preset tiny]
 *     [--steps 60] [--batch 4] [--seed 1] [--out bench/f16_training.json]
 *
 * @module
 */
import { adapterLabel, type GpuBackendName } from "../src/gpu/device.ts";
import { openRuntime } from "../src/kernels/open_runtime.ts";
import { gpuOps } from "../src/backend/gpu_ops.ts";
import { gpuOpsF16 } from "../src/backend/gpu_ops_f16.ts";
import type { Ops } from "../src/backend/ops.ts";
import type { GpuTensor } from "../src/gpu/runtime.ts";
import { ByteTokenizer } from "../src/data/byte_tokenizer.ts";
import { LocalTraining } from "../src/train/train_loop.ts";
import { DEFAULT_CORPUS, trainOptions } from "../workers/train_protocol.ts";
import { numberFlag, parseFlags, runCli, UsageError } from "../src/cli/cli.ts";
import { writeFileAtomic } from "../src/util/atomic_write.ts";
import { memoryNeeds } from "../src/model/memory.ts";

/** Prefix of the result line (the test looks for it). */
export const RESULT_PREFIX = "F16_TRAIN_JSON ";

const USAGE =
  "usage: f16_training.ts [--backend dawn|wgpu] [--preset P] [--steps N] [--batch B] [--seed S] [--out FILE]";

async function run(
  ops: Ops<GpuTensor>,
  tokens: Uint32Array,
  opts: ReturnType<typeof trainOptions>,
) {
  const training = new LocalTraining(ops, tokens, opts);
  const losses: number[] = [];
  const t0 = performance.now();
  while (training.step < opts.steps) losses.push((await training.next()).loss);
  const seconds = (performance.now() - t0) / 1000;
  return {
    finalLoss: losses.at(-1),
    stepMs: (1000 * seconds) / opts.steps,
    tokensPerSec: (opts.steps * opts.batch * opts.model.context) / seconds,
    losses,
  };
}

/** Largest |loss − f32 loss| / f32 loss over the run, and its step (1-based). */
function drift(losses: number[], f32: number[]) {
  const rel = f32.map((l, i) => Math.abs(losses[i] - l) / l);
  const worst = rel.indexOf(Math.max(...rel));
  return { maxRelLossDiff: rel[worst], maxRelLossDiffStep: worst + 1 };
}

async function main(): Promise<void> {
  const { values } = parseFlags({
    args: Deno.args,
    options: {
      backend: { type: "string", default: "wgpu" },
      preset: { type: "string", default: "tiny" },
      steps: { type: "string" },
      batch: { type: "string" },
      seed: { type: "string" },
      out: { type: "string" },
    },
  }, USAGE);
  const backend = values.backend as GpuBackendName;
  if (backend !== "wgpu" && backend !== "dawn") {
    throw new UsageError(`--backend must be dawn or wgpu, got "${backend}"`);
  }
  const opts = trainOptions({
    preset: values.preset,
    steps: numberFlag("steps", values.steps, 60, { integer: true }),
    batch: numberFlag("batch", values.batch, 4, { integer: true }),
    seed: numberFlag("seed", values.seed, 1, { integer: true, min: 0 }),
  });
  const corpus = new URL(`../data/${DEFAULT_CORPUS}`, import.meta.url);
  const tokens = new ByteTokenizer().encode(await Deno.readTextFile(corpus));
  const rt = await openRuntime(backend);
  try {
    const adapter = adapterLabel(rt.adapter);
    console.error(
      `f16_training: ${adapter}, preset ${values.preset}, ${opts.steps} steps × batch ${opts.batch}`,
    );
    const f32 = await run(gpuOps(rt), tokens, opts);
    const f16Inputs = await run(gpuOpsF16(rt), tokens, opts);
    const f16Activations = await run(gpuOpsF16(rt, { activations: true }), tokens, opts);
    // What one step's activations take (the model's, at the run's batch), f32 and f16.
    const acts = (f16: boolean) => {
      const m = memoryNeeds(opts.model, "train", opts.batch, opts.model.context, {
        f16Activations: f16,
      });
      return m.parts.find((p) => p.what.startsWith("activations"))!.bytes;
    };
    const result = {
      date: new Date().toISOString().slice(0, 10),
      adapter,
      shaderF16: rt.device.features.has("shader-f16"),
      preset: values.preset,
      steps: opts.steps,
      batch: opts.batch,
      seed: opts.seed,
      activationBytes: { f32: acts(false), f16: acts(true) },
      runs: {
        f32,
        f16Inputs: { ...drift(f16Inputs.losses, f32.losses), ...f16Inputs },
        f16Activations: { ...drift(f16Activations.losses, f32.losses), ...f16Activations },
      },
    };
    for (const [name, r] of Object.entries(result.runs)) {
      const d = "maxRelLossDiff" in r
        ? `, max |Δloss|/loss ${r.maxRelLossDiff.toExponential(2)} at step ${r.maxRelLossDiffStep}`
        : "";
      console.error(
        `f16_training: ${name}: final loss ${r.finalLoss?.toFixed(4)}, ${
          r.stepMs.toFixed(0)
        } ms/step, ` +
          `${r.tokensPerSec.toFixed(0)} tokens/s${d}`,
      );
    }
    const line = JSON.stringify(result);
    if (values.out) await writeFileAtomic(values.out, JSON.stringify(result, null, 2) + "\n");
    console.log(RESULT_PREFIX + line);
  } finally {
    rt.destroy();
  }
}

if (import.meta.main) await runCli(main);
