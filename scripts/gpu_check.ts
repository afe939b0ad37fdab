/**
 * The measuring half of scripts/gpu_check.sh: the adapter and its buffer limits, the tuned
 * matmul's GFLOP/s and its share of the chip's fp32 peak (and the f16 matmul's of the dense f16
 * tensor peak: H200 SXM 989 TFLOP/s, NVIDIA's datasheet), the attention kernels' GFLOP/s
 * (bench/attention_bench.ts), and which presets fit the adapter (src/model/memory.ts), as one
 * JSON object on stdout's last line.
 *
 *   deno run -A --unstable-webgpu scripts/gpu_check.ts [--adapter dawn|wgpu] [--quick]
 *     [--peak-tflops 67] [--peak-f16-tflops 989]
 *   deno run -A --unstable-webgpu scripts/gpu_check.ts --train PRESET [--adapter dawn|wgpu]
 *     [--steps 3] [--batch 4]
 *
 * `--train` runs a few AdamW steps of one preset on the KJV corpus (its BPE tokens, or bytes
 * for the byte presets) after checking it fits the adapter, one process per preset so that a
 * preset that hangs or crashes the device loses only its own line.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { attentionRows, type AttentionShape } from "../bench/attention_bench.ts";
import { adapterLabel } from "../src/gpu/device.ts";
import { matmul } from "../src/kernels/matmul.ts";
import { castF16, hasShaderF16, matmulF16 } from "../src/kernels/matmul_f16.ts";
import { openRuntime } from "../src/kernels/open_runtime.ts";
import { gpuOps } from "../src/backend/gpu_ops.ts";
import { ByteTokenizer } from "../src/data/byte_tokenizer.ts";
import { parseHfTokenizer } from "../src/data/hf_tokenizer.ts";
import { PRESET_TOKENIZERS, presetConfig, PRESETS } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { Llama } from "../src/model/llama.ts";
import { checkBufferLimits, checkHostMemory, memoryNeeds } from "../src/model/memory.ts";
import { Trainer } from "../src/train/trainer.ts";
import { Rng } from "../src/util/rng.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean" },
    adapter: { type: "string", default: "dawn" },
    "peak-tflops": { type: "string" },
    "peak-f16-tflops": { type: "string" },
    train: { type: "string" },
    steps: { type: "string", default: "3" },
    batch: { type: "string", default: "4" },
  },
});
const quick = values.quick ?? false;
const backend = adapterFlag(values.adapter);
if (values.train !== undefined) {
  await trainPreset(values.train, Number(values.steps), Number(values.batch));
  Deno.exit(0);
}
// H200 SXM: 67 TFLOP/s fp32 (non-tensor), NVIDIA's datasheet; the same as the H100 SXM.
const peakTflops = Number(values["peak-tflops"] ?? 67);
const rt = await openRuntime(backend);
const limits = rt.device.limits;
const shaderF16 = hasShaderF16(rt);
console.error(`adapter: ${adapterLabel(rt.adapter)}`);

// The f16 matmul (packed f16 operands, f32 sums; native f16 where the device has shader-f16)
// against the chip's dense f16 tensor peak: our kernels use no tensor cores (WebGPU exposes no
// cooperative matrices here), so this share says how far that is from the target.
const peakF16Tflops = Number(values["peak-f16-tflops"] ?? 989);
const matmuls = [];
for (const n of quick ? [256, 512] : [512, 1024, 2048, 4096]) {
  const rng = new Rng(n);
  const a = rt.tensor(n * n), b = rt.tensor(n * n), out = rt.tensor(n * n);
  const a16 = rt.tensor(n * n / 2, "u32"), b16 = rt.tensor(n * n / 2, "u32");
  rt.write(a, rng.normals(n * n));
  rt.write(b, rng.normals(n * n));
  castF16(rt, a16, a, n * n);
  castF16(rt, b16, b, n * n);
  const shape = { M: n, N: n, K: n, transB: true };
  const f32 = await rate(
    `matmul ${n}³`,
    2 * n ** 3,
    peakTflops,
    () => matmul(rt, out, a, b, shape),
  );
  const f16 = await rate(
    `matmul f16 ${n}³`,
    2 * n ** 3,
    peakF16Tflops,
    () => matmulF16(rt, out, a16, b16, shape),
  );
  matmuls.push({ n, ...f32, f16 });
  for (const t of [a, b, out, a16, b16]) rt.dispose(t);
}

/**
 * `run`'s ms per call, GFLOP/s and % of `peak` TFLOP/s, or the error it raised: a kernel that
 * fails on a new adapter (the f16 path on a first GPU) costs its own line, not the stage.
 */
async function rate(what: string, flops: number, peak: number, run: () => void) {
  try {
    const ms = await timeIt(run),
      gflops = flops / ms / 1e6,
      pctOfPeak = 100 * gflops / (peak * 1000);
    console.error(
      `${what}: ${gflops.toFixed(1)} GFLOP/s (${pctOfPeak.toFixed(2)}% of ${peak} TFLOP/s)`,
    );
    return { ms, gflops, pctOfPeak };
  } catch (e) {
    console.error(`${what}: ${(e as Error).message}`);
    return { error: (e as Error).message };
  }
}

/** Milliseconds per call of `run`, after one call that compiles its pipelines. */
async function timeIt(run: () => void): Promise<number> {
  run();
  await rt.sync();
  let reps = 0;
  const t0 = performance.now();
  while (reps < 50 && (reps === 0 || performance.now() - t0 < 500)) {
    run();
    await rt.sync();
    reps++;
  }
  return (performance.now() - t0) / reps;
}

// A line a stage cut short by its time limit still brings back (the shell keeps the last one).
console.log(JSON.stringify({ partial: true, adapter: rt.adapter, matmul: matmuls }));

// The tiny preset's shape; at context 2048 the 1b preset's heads (D 64) and one head of D 128.
const attentionShapes: AttentionShape[] = [[
  "tiny preset (B 8, T 64, NH 4, NKV 2, D 16)",
  8,
  64,
  4,
  2,
  16,
]];
if (!quick) {
  attentionShapes.push(
    ["1b preset (B 1, T 2048, NH 32, NKV 8, D 64)", 1, 2048, 32, 8, 64],
    ["T 2048, D 128 (B 1, NH 8, NKV 8)", 1, 2048, 8, 8, 128],
  );
}
const attention = await attentionRows(rt, quick ? 200 : 500, attentionShapes)
  .catch((e) => ({ error: (e as Error).message }));

const presets = Object.entries(PRESETS).map(([name, c]) => {
  const m = memoryNeeds(c, "train", 4);
  let fits: true | string = true;
  try {
    checkBufferLimits(`preset ${name}`, m, limits);
  } catch (e) {
    fits = (e as Error).message;
  }
  return { name, trainBytes: m.total, largestBuffer: m.largest.largest, fits };
});
rt.destroy();
console.log(JSON.stringify({
  adapter: rt.adapter,
  limits: {
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxBufferSize: limits.maxBufferSize,
  },
  features: [...rt.device.features].sort(),
  peakFp32Tflops: peakTflops,
  peakF16Tflops,
  shaderF16,
  matmul: matmuls,
  attention,
  presets,
}));

/** The WebGPU implementation to measure: Dawn (npm `webgpu`) or Deno's built-in wgpu. */
function adapterFlag(name: string): "dawn" | "wgpu" {
  if (name === "dawn" || name === "wgpu") return name;
  console.error(`--adapter must be dawn or wgpu, got "${name}"`);
  Deno.exit(64);
}

/** A few steps of `name` on the shipped corpus; one JSON line (or a refusal line) on stdout. */
async function trainPreset(name: string, steps: number, batch: number) {
  const c = presetConfig(name);
  const needs = memoryNeeds(c, "train", batch);
  const rt = await openRuntime(backend);
  try {
    checkBufferLimits(`preset ${name}`, needs, rt.device.limits);
    // Split buffers let 1b past the binding limits; a software adapter's memory is the host's.
    if (rt.adapter.software) {
      checkHostMemory(`preset ${name}`, needs, Deno.systemMemoryInfo().available);
    }
  } catch (e) {
    console.log(JSON.stringify({ preset: name, backend, batch, refused: (e as Error).message }));
    rt.destroy();
    return;
  }
  const root = new URL("../", import.meta.url);
  const text = await Deno.readTextFile(new URL("data/kjv_genesis_leviticus.txt", root));
  const tokPath = PRESET_TOKENIZERS[name];
  const tok = tokPath === undefined
    ? new ByteTokenizer()
    : parseHfTokenizer(await Deno.readTextFile(new URL(tokPath, root)), tokPath);
  const tokens = tok.encode(text);
  const ops = gpuOps(rt);
  const t0 = performance.now();
  const model = new Llama(ops, c, batch, c.context);
  ops.write(model.params, initParams(model.layout, c, 1));
  const trainer = new Trainer(ops, model);
  const BT = batch * c.context;
  const losses: number[] = [], stepMs: number[] = [];
  for (let s = 0; s < steps; s++) {
    // Consecutive windows of the corpus, the target one token ahead.
    const at = (s * BT) % (tokens.length - BT - 1);
    const t1 = performance.now();
    const r = await trainer.train(
      tokens.subarray(at, at + BT),
      tokens.subarray(at + 1, at + BT + 1),
      1e-3,
    );
    stepMs.push(performance.now() - t1);
    losses.push(r.loss);
    console.error(
      `train ${name} step ${s + 1}/${steps}: loss ${r.loss.toFixed(4)} · ${
        stepMs[s].toFixed(0)
      } ms`,
    );
  }
  const warm = stepMs.length > 1 ? stepMs.slice(1) : stepMs;
  const ms = warm.reduce((a, b) => a + b, 0) / warm.length;
  console.log(JSON.stringify({
    preset: name,
    backend,
    adapter: adapterLabel(rt.adapter),
    params: model.layout.count,
    batch,
    context: c.context,
    memoryBytes: needs.total,
    setupMs: stepMs.length > 0 ? performance.now() - t0 - stepMs.reduce((a, b) => a + b, 0) : 0,
    stepMs: ms,
    tokensPerSec: BT / (ms / 1000),
    losses,
  }));
  rt.destroy();
}
