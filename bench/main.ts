/**
 * `deno task bench`: measures the kernels and training on this machine's adapter, writes
 * bench/results.json and rewrites the table between the bench markers in README.md.
 *
 *   deno task bench [--quick] [--sizes 64,128,...] [--compression 1e6,1e7]
 */
import { parseArgs } from "node:util";
import { openRuntime } from "../src/kernels/open_runtime.ts";
import { adapterLabel } from "../src/gpu/device.ts";
import type { GpuRuntime } from "../src/gpu/runtime.ts";
import { matmul, matmulNaive } from "../src/kernels/matmul.ts";
import { gpuOps } from "../src/backend/gpu_ops.ts";
import { trainingStep } from "./training_step.ts";
import { Rng } from "../src/util/rng.ts";
import { benchCompression } from "./compression_bench.ts";
import { writeFileAtomic } from "../src/util/atomic_write.ts";

async function timeIt(rt: GpuRuntime, fn: () => void, minMs = 300, maxReps = 50): Promise<number> {
  fn();
  await rt.sync(); // warm-up: pipelines compiled, buffers pooled
  let reps = 0;
  const t0 = performance.now();
  while (reps < maxReps && (reps === 0 || performance.now() - t0 < minMs)) {
    fn();
    await rt.sync();
    reps++;
  }
  return (performance.now() - t0) / reps;
}

async function benchMatmul(rt: GpuRuntime, sizes: number[]) {
  const rows = [];
  for (const n of sizes) {
    const rng = new Rng(n);
    const a = rt.tensor(n * n), b = rt.tensor(n * n), out = rt.tensor(n * n);
    rt.write(a, rng.normals(n * n));
    rt.write(b, rng.normals(n * n));
    const flops = 2 * n * n * n;
    const tuned = await timeIt(rt, () => matmul(rt, out, a, b, { M: n, N: n, K: n, transB: true }));
    const naive = await timeIt(rt, () => matmulNaive(rt, out, a, b, { M: n, N: n, K: n, transB: true }), 300, n >= 1024 ? 3 : 50);
    rows.push({ n, tunedMs: tuned, naiveMs: naive, tunedGflops: flops / tuned / 1e6, naiveGflops: flops / naive / 1e6, speedup: naive / tuned });
    console.log(`matmul ${n}³: tuned ${(flops / tuned / 1e6).toFixed(2)} GFLOP/s, naive ${(flops / naive / 1e6).toFixed(2)} GFLOP/s (${(naive / tuned).toFixed(1)}×)`);
    for (const t of [a, b, out]) rt.dispose(t);
  }
  return rows;
}

async function benchTraining(rt: GpuRuntime, preset: string, batch: number, steps: number) {
  const { cfg, params, tokens: BT, step } = await trainingStep(gpuOps(rt), preset, batch);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const stepMs = (performance.now() - t0) / steps;
  // Per-kernel time of one step: each dispatch submitted and awaited alone.
  rt.profile = new Map();
  await step();
  await rt.sync();
  const kernels = [...rt.profile.entries()].sort((x, y) => y[1] - x[1]).map(([kernel, ms]) => ({ kernel, ms }));
  rt.profile = null;
  const row = { preset, params, batch, context: cfg.context, stepMs, tokensPerSec: BT / (stepMs / 1000), kernels };
  console.log(`train ${preset} (${(row.params / 1e6).toFixed(2)}M params, ${BT} tokens/step): ${stepMs.toFixed(1)} ms/step, ${Math.round(row.tokensPerSec)} tok/s`);
  return row;
}

function fmt(n: number, digits = 2) {
  return n >= 100 ? Math.round(n).toLocaleString("en") : n.toFixed(digits);
}

function readmeTable(r: Awaited<ReturnType<typeof run>>): string {
  const lines = [
    `Measured ${r.date} on **${r.adapter}** (\`deno task bench${r.quick ? " --quick" : ""}\`; full data in bench/results.json).`,
    "",
    "| matmul n×n×n | tuned GFLOP/s | naive GFLOP/s | tuned / naive |",
    "|---|---|---|---|",
    ...r.matmul.map((m) => `| ${m.n} | ${fmt(m.tunedGflops)} | ${fmt(m.naiveGflops)} | ${m.speedup.toFixed(1)}× |`),
    "",
    "| training | params | tokens/step | ms/step | tokens/s |",
    "|---|---|---|---|---|",
    ...r.training.map((t) => `| ${t.preset} | ${(t.params / 1e6).toFixed(2)}M | ${t.batch * t.context} | ${fmt(t.stepMs, 1)} | ${fmt(t.tokensPerSec, 0)} |`),
    "",
    `Per-kernel time of one ${r.training[0].preset} training step (each dispatch run alone, so the sum exceeds the pipelined step):`,
    "",
    "| kernel | ms |",
    "|---|---|",
    ...r.training[0].kernels.slice(0, 12).map((k) => `| ${k.kernel} | ${k.ms.toFixed(2)} |`),
  ];
  if (r.compression.length > 0) {
    lines.push("", "| compression | params | value |", "|---|---|---|");
    for (const c of r.compression) lines.push(`| ${c.what} | ${c.params.toLocaleString("en")} | ${c.value} |`);
  }
  return lines.join("\n");
}

async function run(args: string[]) {
  const { values } = parseArgs({
    args,
    options: { quick: { type: "boolean" }, sizes: { type: "string" }, compression: { type: "string" }, out: { type: "string", default: "bench/results.json" } },
    strict: true,
  });
  const quick = values.quick ?? false;
  const sizes = values.sizes ? values.sizes.split(",").map(Number) : quick ? [64, 128, 256, 512] : [64, 128, 256, 512, 1024, 2048];
  const compSizes = values.compression ? values.compression.split(",").map(Number) : quick ? [1e6] : [1e6, 1e7];
  const rt = await openRuntime();
  const adapter = adapterLabel(rt.adapter);
  console.log(`webloco bench · ${adapter}`);
  const matmulRows = await benchMatmul(rt, sizes);
  const training = [
    await benchTraining(rt, "tiny", 8, quick ? 3 : 10),
    await benchTraining(rt, "small", 8, quick ? 2 : 5),
  ];
  const compression = await benchCompression(rt, compSizes);
  return { date: new Date().toISOString().slice(0, 10), adapter, quick, matmul: matmulRows, training, compression, out: values.out! };
}

const result = await run(Deno.args);
await writeFileAtomic(result.out, JSON.stringify(result, null, 2) + "\n");
const readme = await Deno.readTextFile("README.md");
const start = "<!-- bench:start -->", end = "<!-- bench:end -->";
if (readme.includes(start) && readme.includes(end)) {
  const updated = readme.slice(0, readme.indexOf(start) + start.length) + "\n" + readmeTable(result) + "\n" +
    readme.slice(readme.indexOf(end));
  await writeFileAtomic("README.md", updated);
  console.log("README.md benchmark table updated");
}
console.log(`wrote ${result.out}`);
Deno.exit(0);
