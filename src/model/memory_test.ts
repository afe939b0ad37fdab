import { cpuOps } from "../backend/cpu_ops.ts";
import type { Ops, SplitPoint } from "../backend/ops.ts";
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { Trainer } from "../train/trainer.ts";
import { ConfigError, presetConfig, PRESETS } from "./config.ts";
import { Llama } from "./llama.ts";
import {
  checkBufferLimits,
  checkHostMemory,
  formatBytes,
  memoryNeeds,
  WEBGPU_DEFAULT_LIMITS,
} from "./memory.ts";
import { paramLayout } from "./params.ts";
import { runMain } from "../testing/run_main.ts";

/**
 * CPU ops that record the bytes of every buffer they allocate (views allocate nothing) and the
 * largest piece that must lie in one GPU buffer: the whole buffer, or of a buffer with split
 * points (which the GPU splits past one binding) its largest part.
 */
function countingOps() {
  const ops = cpuOps(32);
  const sizes: number[] = [], pieces: number[] = [];
  const count = (n: number, split?: readonly SplitPoint[]) => {
    sizes.push(4 * n);
    const ends = split?.map((p, i) => (i + 1 < split.length ? split[i + 1].offset : n) - p.offset);
    pieces.push(4 * (ends ? Math.max(...ends) : n));
  };
  const counted: Ops<unknown> = {
    ...ops,
    tensor: (
      n: number,
      label: string,
      split?: readonly SplitPoint[],
    ) => (count(n, split), ops.tensor(n, label)),
    indices: (n: number, label: string) => (count(n), ops.indices(n, label)),
  } as Ops<unknown>;
  return { ops: counted, sizes, pieces };
}

for (const name of ["tiny", "small"]) {
  Deno.test(`memoryNeeds counts exactly the buffers Llama and Trainer allocate (${name})`, () => {
    const c = presetConfig(name);
    const fwd = countingOps();
    new Llama(fwd.ops, c, 3, c.context, { forwardOnly: true });
    const v = memoryNeeds(c, "validator", 3);
    assertEquals(v.total, fwd.sizes.reduce((a, b) => a + b, 0));
    assertEquals(v.largest.largest, Math.max(...fwd.pieces));

    const full = countingOps();
    new Trainer(full.ops, new Llama(full.ops, c, 3, c.context));
    const t = memoryNeeds(c, "train", 3);
    assertEquals(t.total, full.sizes.reduce((a, b) => a + b, 0));
    assertEquals(t.largest.largest, Math.max(...full.pieces));
    // The parameters count by their largest tensor.
    const params = t.parts.find((p) => p.label === "params")!;
    const big = Math.max(...paramLayout(c).entries.map((e) => e.size));
    assertEquals([paramLayout(c).byName.get(params.tensor!)!.size, params.largest], [big, 4 * big]);
    // A peer adds θ_start and the error feedback (two more parameter-sized buffers) and more.
    const p = memoryNeeds(c, "peer", 3);
    assert(p.total > t.total + 2 * 4 * paramLayout(c).length);
  });
}

Deno.test("memoryNeeds scales activations with the batch and presets grow in order", () => {
  const c = presetConfig("20m");
  const one = memoryNeeds(c, "train", 1), two = memoryNeeds(c, "train", 2);
  const acts = (m: typeof one) => m.parts.find((p) => p.what.startsWith("activations"))!.bytes;
  assertEquals(acts(two), 2 * acts(one));
  const totals = ["tiny", "small", "base", "20m", "125m", "1b"].map((n) =>
    memoryNeeds(PRESETS[n], "train", 4).total
  );
  for (let i = 1; i < totals.length; i++) assert(totals[i] > totals[i - 1], `preset ${i}`);
});

Deno.test("checkBufferLimits refuses a preset past a fake adapter's limits with one line", () => {
  const m = memoryNeeds(presetConfig("1b"), "train", 4);
  // The parameters are split (their largest tensor, an MLP matrix, is 64 MiB); a layer's
  // activation (4 × 2048 × 8192 floats) is not.
  const e = assertThrows(
    () => checkBufferLimits("preset 1b", m, WEBGPU_DEFAULT_LIMITS),
    ConfigError,
  );
  assertEquals(
    e.message,
    "preset 1b needs a 256 MiB buffer for the activations of 16 layers (l0.g); this adapter " +
      "binds at most 128 MiB per buffer (maxStorageBufferBindingSize)",
  );
  const params = m.parts.find((p) => p.label === "params")!;
  assertEquals([params.tensor, params.largest], [
    "model.layers.0.mlp.gate_proj.weight",
    64 * 2 ** 20,
  ]);
  const alloc = assertThrows(
    () =>
      checkBufferLimits("preset 1b", m, {
        maxBufferSize: 128 * 2 ** 20,
        maxStorageBufferBindingSize: 2 ** 40,
      }),
    ConfigError,
  );
  assert(
    alloc.message.endsWith("allocates at most 128 MiB per buffer (maxBufferSize)"),
    alloc.message,
  );
  // 3.66 GiB of parameters no longer need one binding: 1b passes 1 GiB (Dawn/SwiftShader) and
  // 2 GiB limits, which refused it before the split.
  for (const limit of [2 ** 30, 2 ** 31]) {
    checkBufferLimits("preset 1b", m, { maxBufferSize: limit, maxStorageBufferBindingSize: limit });
    checkBufferLimits("preset 1b", memoryNeeds(presetConfig("1b"), "peer", 4), {
      maxBufferSize: limit,
      maxStorageBufferBindingSize: limit,
    });
  }
  // 20m and, now, 125m (492 MiB of parameters, its logits 64 MiB) fit WebGPU's defaults.
  for (const name of ["20m", "125m"]) {
    checkBufferLimits(name, memoryNeeds(presetConfig(name), "peer", 4), WEBGPU_DEFAULT_LIMITS);
  }
  // A tensor past one binding is still refused: a 32768 × 1024 embedding is 128 MiB.
  const wide = { ...presetConfig("20m"), vocabSize: 32768, dModel: 1024, nHeads: 16 };
  assertThrows(
    () =>
      checkBufferLimits("wide", memoryNeeds(wide, "validator", 1), {
        maxBufferSize: 2 ** 40,
        maxStorageBufferBindingSize: 100 * 2 ** 20,
      }),
    ConfigError,
    "needs a 128 MiB buffer for the parameters (params: model.embed_tokens.weight)",
  );
});

Deno.test("checkHostMemory refuses a step larger than the machine's memory", () => {
  const m = memoryNeeds(presetConfig("125m"), "train", 4);
  checkHostMemory("125m", m, 64 * 2 ** 30);
  assertThrows(
    () => checkHostMemory("125m", m, 4 * 2 ** 30),
    ConfigError,
    "this machine has 4 GiB",
  );
});

Deno.test("formatBytes uses binary units", () => {
  assertEquals(formatBytes(512), "512 B");
  assertEquals(formatBytes(128 * 2 ** 20), "128 MiB");
  assertEquals(formatBytes(1.5 * 2 ** 30), "1.50 GiB");
  assertEquals(formatBytes(75.5 * 2 ** 20), "75.5 MiB");
});

Deno.test("new presets keep LLaMA proportions and the BPE vocabulary", () => {
  for (const [name, size] of [["20m", 20e6], ["125m", 125e6], ["1b", 1e9]] as const) {
    const c = presetConfig(name);
    assertEquals(c.vocabSize, 4096);
    assertEquals(c.dModel / c.nHeads, 64);
    const count = paramLayout(c).count;
    assert(count > 0.9 * size && count < 1.1 * size, `${name}: ${count} parameters`);
    const ratio = c.ffnHidden / c.dModel;
    assert(ratio >= 2.6 && ratio <= 4, `${name}: ffn ${ratio}·d`);
  }
});

Deno.test("train refuses a step past the machine's memory with one line, before allocating", async () => {
  // Batch 1000 of the 1b preset needs terabytes: refused on any machine.
  const r = await runMain("src/cli/train_main.ts", [
    "--preset",
    "1b",
    "--batch",
    "1000",
    "--steps",
    "1",
    "--backend",
    "cpu",
  ]);
  const lines = r.stderr.trim().split("\n").filter((l) => l.trim().length > 0);
  assertEquals(r.code, 1, r.stderr);
  assertEquals(lines.length, 1, r.stderr);
  assert(
    /^error: model 1b needs [\d.]+ TiB for one train step at batch 1000; this machine has /.test(
      lines[0],
    ),
    lines[0],
  );
  assert(r.stdout.includes("memory (train, 1b, batch 1000 × 2048)"), r.stdout);
});
