/**
 * A peer's whole window per preset (issue 13): H inner AdamW steps, the compression of the
 * pseudo-gradient (`WindowTrainer.compress`: DCT, top-k, quantisation, error feedback) and the
 * encoding of the update payload (`encodeUpdate`), each timed, with the payload's bytes — on the
 * float32 CPU backend and on Deno's wgpu (tiny by default: on lavapipe with 2 loaded cores the
 * small preset's window did not end within 5 minutes, pipeline compilation included). Writes bench/window.json (date,
 * load, backend) and prints a Markdown table for the README ("Benchmarks").
 *
 *   deno task bench:window [--presets tiny,small,base,20m] [--wgpu tiny] [--out FILE]
 *
 * The tokens are drawn uniformly at random (a step's time does not depend on the text); H and
 * the batch are cut per preset so that the whole run stays under ~10 minutes on 2 loaded cores
 * (table `SETTINGS`); 125m (`--presets 125m`: one step of 1 × 1024 tokens is 4–10 minutes of
 * CPU here) and 1b are left out by default. A preset whose peer step would not fit the machine's memory is skipped
 * with the reason (src/model/memory.ts `checkHostMemory`).
 *
 * @module
 */
import { cpuOps } from "../src/backend/cpu_ops.ts";
import { gpuOps } from "../src/backend/gpu_ops.ts";
import type { Ops } from "../src/backend/ops.ts";
import { parseFlags, runCli, UsageError } from "../src/cli/cli.ts";
import { encodeUpdate } from "../src/codec/update_codec.ts";
import { Sampler } from "../src/data/sampler.ts";
import { adapterLabel } from "../src/gpu/device.ts";
import { openRuntime } from "../src/kernels/open_runtime.ts";
import { presetConfig, PRESETS } from "../src/model/config.ts";
import { checkHostMemory, formatBytes, memoryNeeds } from "../src/model/memory.ts";
import { localGenesis } from "../src/protocol/local_genesis.ts";
import { initialParams, runContext } from "../src/protocol/run_context.ts";
import { WindowTrainer } from "../src/roles/window_trainer.ts";
import { writeFileAtomic } from "../src/util/atomic_write.ts";
import { Rng } from "../src/util/rng.ts";

/** H inner steps and sequences per step of each preset here (2 shared cores, ≤ 10 min in all). */
const SETTINGS: Record<string, { H: number; batch: number }> = {
  tiny: { H: 8, batch: 4 },
  small: { H: 4, batch: 4 },
  base: { H: 2, batch: 2 },
  "20m": { H: 2, batch: 1 },
  "125m": { H: 1, batch: 1 },
  "1b": { H: 1, batch: 1 },
};

/** One measured window. */
interface WindowRow {
  preset: string;
  backend: string;
  params: number;
  batch: number;
  context: number;
  H: number;
  /** Mean ms of one inner step (the first, which compiles GPU pipelines, included). */
  stepMs: number;
  trainMs: number;
  compressMs: number;
  encodeMs: number;
  payloadBytes: number;
  tokensPerSec: number;
}

/** Trains, compresses and encodes one window of `preset` on `ops`. */
async function window<T>(preset: string, ops: Ops<T>, backend: string): Promise<WindowRow> {
  const model = presetConfig(preset);
  const { H, batch } = SETTINGS[preset];
  const g = localGenesis({
    validators: ["5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"],
    genesisTime: 0,
    model,
    data: { batch },
    sparseloco: { H },
  });
  const ctx = runContext(g);
  const rng = new Rng(7);
  const tokens = new Uint32Array(Math.max(200_000, 4 * batch * model.context));
  for (let i = 0; i < tokens.length; i++) tokens[i] = rng.int(model.vocabSize);
  const sampler = new Sampler(tokens, { batch, context: model.context, seed: 1 });
  const trainer = new WindowTrainer(ctx, ops, sampler, 0);
  const theta = initialParams(ctx);
  let t = performance.now();
  const trained = await trainer.train(theta, 0, Infinity);
  const trainMs = performance.now() - t;
  t = performance.now();
  const tensors = await trainer.compress();
  const compressMs = performance.now() - t;
  t = performance.now();
  const payload = encodeUpdate({
    indexMode: ctx.indexMode,
    runId: ctx.runId,
    window: 0,
    modelHash: new Uint8Array(32),
    tensors: tensors.map((x, id) => ({ ...x, id })),
  });
  const encodeMs = performance.now() - t;
  const row = {
    preset,
    backend,
    params: ctx.layout.count,
    batch,
    context: model.context,
    H: trained.steps,
    stepMs: trainMs / trained.steps,
    trainMs,
    compressMs,
    encodeMs,
    payloadBytes: payload.length,
    tokensPerSec: (trained.steps * batch * model.context) / (trainMs / 1000),
  };
  console.error(
    `${preset} on ${backend}: ${H} steps ${(trainMs / 1000).toFixed(1)} s, compress ${
      compressMs.toFixed(0)
    } ms, encode ${encodeMs.toFixed(0)} ms, ${formatBytes(payload.length)}`,
  );
  return row;
}

/** `tiny,small` → known preset names, or a UsageError. */
function presetList(flag: string, text: string): string[] {
  const names = text.split(",").filter((s) => s.length > 0);
  for (const n of names) {
    if (!(n in PRESETS)) throw new UsageError(`--${flag}: unknown preset "${n}"`);
  }
  return names;
}

await runCli(async () => {
  const { values } = parseFlags({
    args: Deno.args,
    options: {
      presets: { type: "string", default: "tiny,small,base,20m" },
      wgpu: { type: "string", default: "tiny" },
      out: { type: "string", default: "bench/window.json" },
    },
  }, "usage: window_bench.ts [--presets LIST] [--wgpu LIST] [--out FILE]");
  const rows: WindowRow[] = [];
  const skipped: { preset: string; backend: string; why: string }[] = [];
  const loadBefore = Deno.loadavg();
  const started = performance.now();
  const cpu = cpuOps(32);
  for (const p of presetList("presets", values.presets!)) {
    const needs = memoryNeeds(presetConfig(p), "peer", SETTINGS[p].batch);
    try {
      checkHostMemory(`preset ${p}`, needs, Deno.systemMemoryInfo().available);
    } catch (e) {
      skipped.push({ preset: p, backend: cpu.name, why: (e as Error).message });
      console.error(`${p}: ${(e as Error).message}`);
      continue;
    }
    rows.push(await window(p, cpu, cpu.name));
  }
  const wgpu = presetList("wgpu", values.wgpu!);
  let adapter: string | null = null;
  if (wgpu.length > 0) {
    const rt = await openRuntime("wgpu");
    adapter = adapterLabel(rt.adapter);
    try {
      for (const p of wgpu) rows.push(await window(p, gpuOps(rt), adapter));
    } finally {
      rt.destroy();
    }
  }
  const result = {
    date: new Date().toISOString(),
    machine: `${navigator.hardwareConcurrency} cores, shared; load average ${
      loadBefore.map((x) => x.toFixed(1)).join(" ")
    } before, ${Deno.loadavg().map((x) => x.toFixed(1)).join(" ")} after`,
    seconds: (performance.now() - started) / 1000,
    tokens: "uniformly random (timing does not depend on the text)",
    wgpuAdapter: adapter,
    rows,
    skipped,
  };
  await writeFileAtomic(values.out!, JSON.stringify(result, null, 2) + "\n");
  console.log(
    "| preset | backend | params | batch × context | H | step | train (H steps) | compress | encode | payload |",
  );
  console.log("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.preset} | ${r.backend} | ${
        (r.params / 1e6).toFixed(2)
      }M | ${r.batch} × ${r.context} | ${r.H} | ` +
        `${(r.stepMs / 1000).toFixed(2)} s | ${(r.trainMs / 1000).toFixed(1)} s | ` +
        `${(r.compressMs / 1000).toFixed(2)} s | ${r.encodeMs.toFixed(0)} ms | ${
          formatBytes(r.payloadBytes)
        } |`,
    );
  }
});
