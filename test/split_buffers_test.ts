/**
 * Tensors split across GPU buffers (src/gpu/runtime.ts) give the single-buffer results bit for
 * bit. One device, two runtimes sharing its pipelines: the default (every flat tensor of the
 * tiny preset in one buffer) and one forced to 128 KiB per buffer, so that parameters,
 * gradients, AdamW moments, θ_start and the error feedback each span ≥ 3 buffers (2 steps at
 * 2 × 32 tokens: ~30 s on Dawn/SwiftShader, mostly compiling). Same init, same batches: losses,
 * gradient norms, gradients, parameters, moments, the model hash, the compressor's payload and
 * its error feedback must be identical. A second case forces 2 KiB on a layout of many small
 * tensors so that the compressor's read-back and upload buffers are split too.
 */
import { acquireGpu } from "../src/gpu/device.ts";
import { GpuRuntime, type GpuTensor } from "../src/gpu/runtime.ts";
import { loadShaders } from "../src/kernels/shaders.ts";
import { gradClip, gradClipPartials } from "../src/kernels/grad_clip.ts";
import { residualForward } from "../src/kernels/residual.ts";
import { gpuOps } from "../src/backend/gpu_ops.ts";
import { cpuOps } from "../src/backend/cpu_ops.ts";
import type { CompressorLayout } from "../src/backend/compressor.ts";
import { compressorTraffic } from "../src/backend/compressor_gpu.ts";
import { encodeUpdate } from "../src/codec/update_codec.ts";
import { modelHash } from "../src/codec/model_hash.ts";
import { presetConfig } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { Llama } from "../src/model/llama.ts";
import { PARAM_ALIGN, paramLayout } from "../src/model/params.ts";
import type { QuantizedTensor } from "../src/reference/sparseloco/compress.ts";
import { Trainer } from "../src/train/trainer.ts";
import { hex } from "../src/util/hex.ts";
import { Rng } from "../src/util/rng.ts";
import { assert, assertEquals, assertThrows } from "../src/testing/assert.ts";
import { GPU_TEST } from "./gpu.ts";

const gpu = await acquireGpu();
const source = await loadShaders();
const single = new GpuRuntime(gpu, source);
Deno.test.afterAll(() => single.destroy()); // the other runtimes share its device

const TINY = presetConfig("tiny");
const B = 2, T = 32, STEPS = 2, LR = 3e-3;

/** The float32 bits of a read-back, for exact comparison (NaN and -0 included). */
const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

function payload(tensors: QuantizedTensor[]): Uint8Array {
  const hash = new Uint8Array(32).fill(5);
  return encodeUpdate({
    indexMode: 0,
    runId: hash,
    window: 1,
    modelHash: hash,
    tensors: tensors.map((t, id) => ({ ...t, id })),
  });
}

interface Run {
  chunks: number;
  losses: number[];
  norms: number[];
  grads: Uint32Array;
  params: Uint32Array;
  m: Uint32Array;
  v: Uint32Array;
  hash: string;
  payload: Uint8Array;
  error: Uint32Array;
}

/** STEPS AdamW steps of the tiny preset on seeded batches, then the peer's compression. */
async function train(rt: GpuRuntime): Promise<Run> {
  const ops = gpuOps(rt);
  const model = new Llama(ops, TINY, B, T);
  const trainer = new Trainer(ops, model);
  const compressor = ops.compressor(model.layout, {});
  ops.write(model.params, initParams(model.layout, TINY, 11));
  compressor.begin(model.params);
  const rng = new Rng(12);
  const losses: number[] = [], norms: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const inputs = new Uint32Array(B * T).map(() => rng.int(TINY.vocabSize));
    const targets = new Uint32Array(B * T).map(() => rng.int(TINY.vocabSize));
    const { loss, gradNorm } = await trainer.train(inputs, targets, LR);
    losses.push(loss);
    norms.push(gradNorm);
  }
  const tensors = await compressor.compress(model.params);
  const params = await ops.read(model.params);
  const run: Run = {
    chunks: Math.min(
      ...[model.params, model.grads, trainer.m, trainer.v].map((t) => rt.chunksOf(t).length),
    ),
    losses,
    norms,
    grads: bits(await ops.read(model.grads)),
    params: bits(params),
    m: bits(await ops.read(trainer.m)),
    v: bits(await ops.read(trainer.v)),
    hash: hex(await modelHash(params)),
    payload: payload(tensors),
    error: bits(await compressor.readError()),
  };
  compressor.dispose();
  return run;
}

Deno.test({
  name: "split buffers train the tiny preset bit-identically to one buffer",
  ...GPU_TEST,
  async fn() {
    const split = new GpuRuntime(gpu, source, { maxBindingBytes: 128 * 1024 });
    const [a, b] = [await train(single), await train(split)];
    assertEquals(a.chunks, 1);
    assert(b.chunks >= 3, `the forced limit split the parameters into ${b.chunks} buffers`);
    const init = bits(initParams(paramLayout(TINY), TINY, 11));
    assert(a.params.some((x, i) => x !== init[i]), "training changed no parameter");
    assert(a.losses.every(Number.isFinite) && a.norms.every((n) => n > 0));
    assertEquals(b.losses, a.losses, "losses");
    assertEquals(b.norms, a.norms, "gradient norms");
    for (const k of ["grads", "params", "m", "v", "error"] as const) assertEquals(b[k], a[k], k);
    assertEquals(b.hash, a.hash, "model hash");
    assertEquals(b.payload, a.payload, "compressor payload");
  },
});

/** Many small tensors: at 2 KiB a buffer every buffer of the compressor is split. */
function smallLayout(): CompressorLayout {
  let offset = 0;
  const entries = [[24, 20], [70], [30, 16], [1], [300], [3, 130], [16, 31], [200], [12, 12]].map(
    (shape, i) => {
      const e = { name: `t${i}`, offset, shape };
      offset += Math.ceil(shape.reduce((x, y) => x * y, 1) / PARAM_ALIGN) * PARAM_ALIGN;
      return e;
    },
  );
  return { entries, length: offset };
}

Deno.test({
  name:
    "split buffers give the compressor's payload and error feedback of one buffer and of the CPU",
  ...GPU_TEST,
  async fn() {
    const layout = smallLayout();
    const rt = new GpuRuntime(gpu, source, { maxBindingBytes: 2048 });
    const rng = new Rng(21);
    const e0 = rng.normals(layout.length, 1e-3);
    const start = rng.normals(layout.length, 0.02);
    const end = start.map((x) => x + 1e-3 * rng.normal());
    const results = [];
    for (const r of [single, rt]) {
      const ops = gpuOps(r);
      const c = ops.compressor(layout, {});
      const params = ops.tensor(layout.length, "params", layout.entries);
      c.loadError(e0);
      ops.write(params, start);
      c.begin(params);
      ops.write(params, end);
      results.push({
        chunks: r.chunksOf(params).length,
        payload: payload(await c.compress(params)),
        error: bits(await c.readError()),
      });
      c.dispose();
      r.dispose(params);
    }
    const cpu = cpuOps(32).compressor(layout, {});
    cpu.loadError(e0);
    const p = start.slice();
    cpu.begin(p);
    p.set(end);
    const want = { payload: payload(await cpu.compress(p)), error: bits(await cpu.readError()) };
    assert(results[1].chunks >= 3, `params in ${results[1].chunks} buffers`);
    const traffic = compressorTraffic(layout, {});
    assert(traffic.readBack > 2048 && traffic.upload > 2048, "read-back and upload are split too");
    for (const got of results) {
      assertEquals(got.payload, want.payload, "payload");
      assertEquals(got.error, want.error, "error feedback");
    }
  },
});

Deno.test({
  name:
    "split buffers refuse a named tensor larger than one buffer and a kernel binding a split tensor",
  ...GPU_TEST,
  fn() {
    // The embedding (256 × 64 floats, 64 KiB) cannot be split.
    const tight = new GpuRuntime(gpu, source, { maxBindingBytes: 32 * 1024 });
    assertThrows(
      () => new Llama(gpuOps(tight), TINY, B, TINY.context),
      Error,
      "tensor params: model.embed_tokens.weight needs 65536 bytes in one binding; buffers here hold at most 32768",
    );
    const rt = new GpuRuntime(gpu, source, { maxBindingBytes: 4096 });
    const t = rt.tensor(
      4096,
      "f32",
      "flat",
      [0, 1024, 2048, 3072].map((offset) => ({ name: `p${offset}`, offset })),
    );
    assertEquals(rt.chunksOf(t).length, 4);
    const out: GpuTensor = rt.tensor(4096, "f32", "out");
    assertThrows(
      () => residualForward(rt, out, t, t, 4096),
      Error,
      "residual.add: tensor flat spans 4 buffers",
    );
    // A view inside one chunk binds; one across two is still split.
    assertEquals(rt.chunksOf(rt.view(t, 1024, 1024)).length, 1);
    assertEquals(rt.chunksOf(rt.view(t, 960, 128)).length, 2);
    rt.dispose(t);
    rt.dispose(out);
  },
});

Deno.test({
  name: "split buffers give gradClip the single buffer's order of additions",
  ...GPU_TEST,
  async fn() {
    // One thread's chain, across four chunks: 4096², then three 1s. In ascending order each 1
    // is lost against 2²⁴ (float32 ties to even), so the norm is exactly 4096; any other order
    // gives 2²⁴ + 4 and a norm one ulp higher.
    const n = 300_000, stride = 256 * gradClipPartials(n);
    const g = new Float32Array(n);
    g[0] = 4096;
    for (let k = 1; k <= 3; k++) g[k * stride] = 1;
    const rng = new Rng(31);
    const points = [{ name: "p0", offset: 0 }];
    for (let at = 64 * (7 + rng.int(64)); at < n; at += 64 * (7 + rng.int(64))) {
      points.push({ name: `p${at}`, offset: at });
    }
    const rt = new GpuRuntime(gpu, source, { maxBindingBytes: 40 * 1024 });
    const got = [];
    for (const [r, split] of [[single, undefined], [rt, points]] as const) {
      // The running sums' buffer is never cleared (the first chunk starts them): one left
      // full of other numbers in the pool must not change the norm.
      const dirty = r.tensor(stride, "f32", "dirty");
      r.write(dirty, new Float32Array(stride).fill(1e3));
      r.dispose(dirty);
      const t = r.tensor(n, "f32", "grads", split), out = r.tensor(2, "f32", "clip");
      r.write(t, g);
      gradClip(r, out, t, n, 0.25);
      got.push({ chunks: r.chunksOf(t).length, out: await r.read(out) });
      r.dispose(t);
      r.dispose(out);
    }
    assert(got[1].chunks >= 20, `${got[1].chunks} chunks`);
    assertEquals(got[0].out[1], 4096, "single buffer: ascending order");
    assertEquals(bits(got[1].out), bits(got[0].out));
  },
});
