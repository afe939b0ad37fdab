/**
 * `deno task bench:cpu`: the CPU backend's matmul, the TypeScript reference against the
 * WebAssembly SIMD kernel (src/backend/wasm_matmul.ts), at square and model shapes, and whole
 * training steps of the tiny and small presets on each; writes bench/cpu.json and rewrites the
 * table between the bench-cpu markers in README.md.
 *
 *   deno task bench:cpu [--quick]
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { cpuOps } from "../src/backend/cpu_ops.ts";
import { WasmMatmul } from "../src/backend/wasm_matmul.ts";
import { matmul, type MatmulShape } from "../src/reference/matmul.ts";
import { trainingStep } from "./training_step.ts";
import { writeFileAtomic } from "../src/util/atomic_write.ts";
import { Rng } from "../src/util/rng.ts";

/**
 * Mean wall and CPU ms of `fn` over at least `minMs` (after one warm-up call). The CPU time
 * (this process's) is what a shared machine's numbers can be compared by: the 2 cores here
 * are often oversubscribed, which stretches the wall time but not the CPU time.
 */
function timeIt(fn: () => void, minMs: number): { wallMs: number; cpuMs: number } {
  fn();
  let reps = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (reps === 0 || performance.now() - t0 < minMs) {
    fn();
    reps++;
  }
  const wallMs = (performance.now() - t0) / reps;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000 / reps };
}

/** Shapes: square, and the tiny preset's at batch 8 (B·T = 512 rows). */
const SHAPES: { what: string; shape: MatmulShape }[] = [
  ...[64, 128, 256, 512].map((n) => ({
    what: `${n}³ (A·Bᵀ)`,
    shape: { M: n, N: n, K: n, transB: true },
  })),
  { what: "tiny q_proj fwd 512×64×64", shape: { M: 512, N: 64, K: 64, transB: true } },
  { what: "tiny mlp up fwd 512×176×64", shape: { M: 512, N: 176, K: 64, transB: true } },
  { what: "tiny lm_head fwd 512×256×64", shape: { M: 512, N: 256, K: 64, transB: true } },
  {
    what: "tiny lm_head dW 256×64×512 (Aᵀ·B, +=)",
    shape: { M: 256, N: 64, K: 512, transA: true, accumulate: true },
  },
];

function benchMatmul(minMs: number) {
  const wasm = new WasmMatmul();
  return SHAPES.map(({ what, shape }) => {
    const { M, N, K } = shape;
    const rng = new Rng(M + N + K);
    const a = Float32Array.from(rng.normals(M * K)), b = Float32Array.from(rng.normals(K * N));
    const out = new Float32Array(M * N);
    const flops = 2 * M * N * K;
    const ref = timeIt(() => matmul(out, a, b, shape), minMs);
    const w = timeIt(() => wasm.matmul(out, a, b, shape), minMs);
    const row = {
      what,
      shape,
      referenceGflops: flops / ref.wallMs / 1e6,
      wasmGflops: flops / w.wallMs / 1e6,
      referenceGflopsPerCpuSecond: flops / ref.cpuMs / 1e6,
      wasmGflopsPerCpuSecond: flops / w.cpuMs / 1e6,
      speedup: ref.cpuMs / w.cpuMs,
    };
    console.log(
      `matmul ${what}: reference ${row.referenceGflopsPerCpuSecond.toFixed(2)}, wasm ` +
        `${row.wasmGflopsPerCpuSecond.toFixed(2)} GFLOP per CPU-second (${
          row.speedup.toFixed(1)
        }×; wall ` +
        `${row.referenceGflops.toFixed(2)} / ${row.wasmGflops.toFixed(2)} GFLOP/s)`,
    );
    return row;
  });
}

async function benchTraining(preset: string, batch: number, steps: number, wasm: boolean) {
  const ops = cpuOps(32, { wasm });
  const { cfg, params, tokens: BT, step } = await trainingStep(ops, preset, batch);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const stepMs = (performance.now() - t0) / steps;
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000 / steps;
  const row = {
    preset,
    backend: ops.name,
    params,
    batch,
    context: cfg.context,
    stepMs,
    cpuMs,
    tokensPerSec: BT / (stepMs / 1000),
    tokensPerCpuSecond: BT / (cpuMs / 1000),
  };
  console.log(
    `train ${preset} on ${ops.name}: ${stepMs.toFixed(1)} ms/step (${cpuMs.toFixed(1)} ms CPU), ` +
      `${Math.round(row.tokensPerSec)} tok/s, ${
        Math.round(row.tokensPerCpuSecond)
      } tok per CPU-second`,
  );
  return row;
}

function fmt(n: number, digits = 2): string {
  return n >= 100 ? Math.round(n).toLocaleString("en") : n.toFixed(digits);
}

type Result = Awaited<ReturnType<typeof run>>;

function readmeTable(r: Result): string {
  return [
    `Measured ${r.date}, CPU/SwiftShader machine, no GPU lent (\`deno task bench:cpu${
      r.quick ? " --quick" : ""
    }\`; bench/cpu.json). ` +
    "One thread. Per CPU-second: the 2 cores are shared with other work, which stretches wall time, not CPU time.",
    "",
    "| CPU matmul (float32 in, float64 sums) | TS reference GFLOP per CPU-s | wasm SIMD GFLOP per CPU-s | wasm / reference | wall GFLOP/s (ref / wasm) |",
    "|---|---|---|---|---|",
    ...r.matmul.map((m) =>
      `| ${m.what} | ${fmt(m.referenceGflopsPerCpuSecond)} | ${fmt(m.wasmGflopsPerCpuSecond)} | ${
        m.speedup.toFixed(1)
      }× | ${fmt(m.referenceGflops)} / ${fmt(m.wasmGflops)} |`
    ),
    "",
    "| CPU training (batch 8) | params | matmul | ms CPU/step | tokens per CPU-s | wall ms/step | wall tokens/s |",
    "|---|---|---|---|---|---|---|",
    ...r.training.map((t) =>
      `| ${t.preset} | ${(t.params / 1e6).toFixed(2)}M | ${
        t.backend === "cpu-wasm" ? "wasm SIMD" : "TS reference"
      } | ${fmt(t.cpuMs, 1)} | ${fmt(t.tokensPerCpuSecond, 0)} | ${fmt(t.stepMs, 1)} | ${
        fmt(t.tokensPerSec, 0)
      } |`
    ),
  ].join("\n");
}

async function run(args: string[]) {
  const { values } = parseArgs({
    args,
    options: { quick: { type: "boolean" }, out: { type: "string", default: "bench/cpu.json" } },
    strict: true,
  });
  const quick = values.quick ?? false;
  const matmulRows = benchMatmul(quick ? 300 : 1000);
  const training = [];
  for (const [preset, steps] of [["tiny", quick ? 3 : 10], ["small", quick ? 2 : 4]] as const) {
    for (const wasm of [false, true]) training.push(await benchTraining(preset, 8, steps, wasm));
  }
  return {
    date: new Date().toISOString().slice(0, 10),
    quick,
    matmul: matmulRows,
    training,
    out: values.out!,
  };
}

const result = await run(Deno.args);
await writeFileAtomic(result.out, JSON.stringify(result, null, 2) + "\n");
const readme = await Deno.readTextFile("README.md");
const start = "<!-- bench-cpu:start -->", end = "<!-- bench-cpu:end -->";
if (readme.includes(start) && readme.includes(end)) {
  const updated = readme.slice(0, readme.indexOf(start) + start.length) + "\n" +
    readmeTable(result) + "\n" +
    readme.slice(readme.indexOf(end));
  await writeFileAtomic("README.md", updated);
  console.log("README.md CPU benchmark table updated");
}
console.log(`wrote ${result.out}`);
