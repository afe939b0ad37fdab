import { cpuOps } from "../backend/cpu_ops.ts";
import { gpuOps } from "../backend/gpu_ops.ts";
import type { Ops } from "../backend/ops.ts";
import { openRuntime } from "../kernels/open_runtime.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { throttleDawnPolling } from "../testing/dawn_poll.ts";
import { Trainer } from "../train/trainer.ts";
import { Rng } from "../util/rng.ts";
import { presetConfig } from "./config.ts";
import type { ModelConfig } from "./config.ts";
import { initParams } from "./init.ts";
import { Llama } from "./llama.ts";
import { memoryNeeds } from "./memory.ts";

/** Three layers (so the shared scratch is reused twice), GQA 2:1, untied head. */
const CFG: ModelConfig = {
  vocabSize: 41,
  dModel: 32,
  nLayers: 3,
  nHeads: 4,
  nKvHeads: 2,
  ffnHidden: 48,
  context: 16,
  ropeTheta: 10000,
  normEps: 1e-5,
  tiedEmbeddings: false,
};
const B = 2, T = 12;

/**
 * Two forward/backward passes of different batches (gradients accumulate); returns the
 * per-token losses of both and the gradients, as read back from `ops`.
 */
async function run<Tn>(ops: Ops<Tn>, recompute: boolean) {
  const model = new Llama(ops, CFG, B, T, { recompute });
  ops.write(model.params, initParams(model.layout, CFG, 7).map((x) => 4 * x));
  ops.zero(model.grads);
  const losses: Float32Array[] = [];
  for (const seed of [1, 2]) {
    const rng = new Rng(seed);
    const ids = () => new Uint32Array(B * T).map(() => rng.int(CFG.vocabSize));
    model.setBatch(ids(), ids());
    model.forward();
    model.backward();
    losses.push(await ops.read(model.losses));
  }
  return { losses, grads: await ops.read(model.grads) };
}

function assertSameBits(a: Float32Array, b: Float32Array, what: string) {
  assertEquals(a.length, b.length, what);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const i = ua.findIndex((x, j) => x !== ub[j]);
  assert(i < 0, `${what}: element ${i} differs (${a[i]} vs ${b[i]})`);
}

async function checkBitIdentical<Tn>(ops: Ops<Tn>) {
  const plain = await run(ops, false), rec = await run(ops, true);
  plain.losses.forEach((l, i) => assertSameBits(rec.losses[i], l, `losses of batch ${i}`));
  assertSameBits(rec.grads, plain.grads, "gradients");
  // The comparison means something only if every layer's gradients carry signal.
  assert(plain.grads.every(Number.isFinite));
  assert(plain.grads.filter((g) => g !== 0).length > 0.9 * plain.grads.length);
}

Deno.test("llama recompute gives bit-identical losses and gradients (CPU reference)", async () => {
  await checkBitIdentical(cpuOps(32));
});

Deno.test({
  name: "llama recompute gives bit-identical losses and gradients (WebGPU)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    throttleDawnPolling();
    const rt = await openRuntime();
    try {
      await checkBitIdentical(gpuOps(rt));
    } finally {
      rt.destroy();
    }
  },
});

Deno.test("llama recompute allocates what memoryNeeds counts", () => {
  const ops = cpuOps(32);
  let bytes = 0;
  const counted = {
    ...ops,
    tensor: (n: number, label: string) => (bytes += 4 * n, ops.tensor(n, label)),
    indices: (n: number, label: string) => (bytes += 4 * n, ops.indices(n, label)),
  } as Ops<unknown>;
  new Trainer(counted, new Llama(counted, CFG, B, CFG.context, { recompute: true }));
  assertEquals(bytes, memoryNeeds(CFG, "train", B, CFG.context, { recompute: true }).total);
  assert(bytes < memoryNeeds(CFG, "train", B).total);
});

Deno.test("memoryNeeds with recompute: 1b at batch 4 × 2048 keeps 2.30 GiB of activations", () => {
  const c = presetConfig("1b");
  const acts = (recompute: boolean) =>
    memoryNeeds(c, "train", 4, c.context, { recompute }).parts.find((p) =>
      p.what.startsWith("activations")
    )!.bytes;
  // 16 layer inputs of 4·2048·2048 floats (1 GiB) + one layer's 17 other buffers.
  const perLayer = 4 * 4 * 2048 * (6 * 2048 + 3 * 2048 + 3 * 512 + 3 * 8192 + 2 + 32);
  assertEquals(acts(false), 16 * perLayer);
  assertEquals(acts(true), perLayer + 15 * 4 * 4 * 2048 * 2048);
  assert(acts(true) / 2 ** 30 > 2.29 && acts(true) / 2 ** 30 < 2.31);
});
