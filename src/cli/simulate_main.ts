/**
 * `deno task simulate`: SparseLoCo against centralized AdamW and dense DiLoCo in one process.
 * Writes results.json and loss.svg to --out and prints the comparison table.
 *
 *   deno task simulate [--replicas 4] [--H 30] [--rounds 10] [--batch 4] [--preset tiny]
 *                      [--lr 3e-3] [--alpha 1] [--beta 0.95] [--k 64] [--seed 1] [--out runs/simulate]
 *                      [--eval-batches 4] [--backend gpu|cpu] [--iid]
 *
 * --backend cpu runs the same algorithm on the float32 TypeScript references (`cpuOps(32)`)
 * instead of WebGPU: on a machine with only a software GPU (SwiftShader) that is an order of
 * magnitude faster for the tiny preset. --iid lets every replica sample the whole training split
 * instead of its own contiguous quarter (see `SimulateOptions.iid`).
 */
import { openRuntime } from "../kernels/open_runtime.ts";
import { adapterLabel } from "../gpu/device.ts";
import { gpuOps } from "../backend/gpu_ops.ts";
import { cpuOps } from "../backend/cpu_ops.ts";
import { presetConfig } from "../model/config.ts";
import { ByteTokenizer } from "../data/byte_tokenizer.ts";
import { loadCorpus } from "../data/load_corpus.ts";
import { type Method, simulate, SIMULATE_DEFAULTS } from "../sim/simulate.ts";
import { lineChart } from "../sim/svg_plot.ts";
import { numberFlag, parseFlags, runCli, UsageError } from "./cli.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";

const NUMERIC = [
  "replicas",
  "H",
  "rounds",
  "batch",
  "seed",
  "lr",
  "warmup",
  "alpha",
  "beta",
  "k",
  "eval-batches",
] as const;

function num(name: string, v: string | undefined, fallback: number, integer: boolean): number {
  return numberFlag(name, v, fallback, { integer });
}

async function main() {
  const parsed = parseFlags({
    args: Deno.args,
    options: {
      ...Object.fromEntries(NUMERIC.map((k) => [k, { type: "string" as const }])),
      preset: { type: "string", default: "tiny" },
      methods: { type: "string" },
      out: { type: "string", default: "runs/simulate" },
      corpus: { type: "string", multiple: true, default: [] },
      backend: { type: "string", default: "gpu" },
      iid: { type: "boolean", default: false },
    },
    strict: true,
  });
  const a = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const d = SIMULATE_DEFAULTS;
  const methods = a.methods
    ? (a.methods as string).split(",").map((m) => {
      if (!d.methods.includes(m as Method)) {
        throw new UsageError(`unknown method "${m}" (known: ${d.methods.join(", ")})`);
      }
      return m as Method;
    })
    : d.methods;
  const backend = a.backend as string;
  if (backend !== "gpu" && backend !== "cpu") {
    throw new UsageError(`--backend must be gpu or cpu, got "${backend}"`);
  }
  if (Number(a.beta ?? 0) >= 1) throw new UsageError(`--beta must be below 1, got ${a.beta}`);
  const opts = {
    ...d,
    model: presetConfig(a.preset as string),
    methods,
    replicas: num("replicas", a.replicas as string, d.replicas, true),
    H: num("H", a.H as string, d.H, true),
    rounds: num("rounds", a.rounds as string, d.rounds, true),
    batch: num("batch", a.batch as string, d.batch, true),
    seed: num("seed", a.seed as string, d.seed, true),
    lr: num("lr", a.lr as string, d.lr, false),
    warmup: num("warmup", a.warmup as string, d.warmup, true),
    alpha: num("alpha", a.alpha as string, d.alpha, false),
    beta: num("beta", a.beta as string, d.beta, false),
    k: num("k", a.k as string, d.k, true),
    evalBatches: num("eval-batches", a["eval-batches"] as string, d.evalBatches, true),
    iid: parsed.values.iid === true,
  };
  const corpus = await loadCorpus(a.corpus as string[], new ByteTokenizer());
  const rt = backend === "gpu" ? await openRuntime() : null;
  const adapter = rt
    ? rt.adapter
    : { backend: "cpu-reference", description: "float32 TypeScript references (cpuOps)" };
  console.log(`webloco simulate · ${rt ? adapterLabel(rt.adapter) : adapter.description}`);
  console.log(
    `${opts.replicas} replicas · H ${opts.H} · ${opts.rounds} rounds · batch ${opts.batch}/replica · ` +
      `model ${a.preset} · α ${opts.alpha} · β ${opts.beta} · k ${opts.k}/4096`,
  );
  const report = (m: Method, r: number, loss: number) => {
    console.log(
      `  ${m.padEnd(19)} round ${String(r).padStart(3)}/${opts.rounds} · valid loss ${
        loss.toFixed(4)
      }`,
    );
  };
  const out = rt
    ? await simulate(gpuOps(rt), corpus.tokens, opts, report)
    : await simulate(cpuOps(32), corpus.tokens, opts, report);
  const central = out.results.find((r) => r.method === "centralized");
  const rows = out.results.map((r) => {
    const final = r.validLoss[r.validLoss.length - 1];
    return {
      method: r.method,
      finalValidLoss: final,
      vsCentralized: central ? final / central.validLoss[central.validLoss.length - 1] - 1 : null,
      bytesPerPeerRound: r.bytesPerPeerRound,
      vsFp32: r.bytesPerPeerRound ? out.denseBytes / r.bytesPerPeerRound : null,
      vsBf16: r.bytesPerPeerRound ? out.denseBytes / 2 / r.bytesPerPeerRound : null,
      seconds: r.seconds,
    };
  });
  console.log(
    "\n| method | final valid loss | vs centralized | bytes/peer/round | × smaller than fp32 | × smaller than bf16 |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const r of rows) {
    const pct = r.vsCentralized === null
      ? "—"
      : `${r.vsCentralized >= 0 ? "+" : ""}${(100 * r.vsCentralized).toFixed(1)}%`;
    const b = r.bytesPerPeerRound === null
      ? "— (all-reduce every step)"
      : Math.round(r.bytesPerPeerRound).toLocaleString("en");
    const x = (v: number | null) => (v === null ? "—" : `${v.toFixed(1)}×`);
    console.log(
      `| ${r.method} | ${r.finalValidLoss.toFixed(4)} | ${pct} | ${b} | ${x(r.vsFp32)} | ${
        x(r.vsBf16)
      } |`,
    );
  }
  const dir = a.out as string;
  await Deno.mkdir(dir, { recursive: true });
  const results = {
    options: { ...opts, backend },
    adapter,
    params: out.params,
    denseFp32Bytes: out.denseBytes,
    rows,
    runs: out.results,
  };
  await writeFileAtomic(`${dir}/results.json`, JSON.stringify(results, null, 2) + "\n");
  const svg = lineChart(
    out.results.map((r) => ({
      name: r.method,
      x: r.tokens,
      y: r.validLoss,
      dashed: r.method === "sparseloco-compact",
    })),
    {
      title: `validation loss, ${opts.replicas} replicas, H=${opts.H} (${a.preset})`,
      xLabel: "tokens (all replicas)",
      yLabel: "validation loss",
    },
  );
  await writeFileAtomic(`${dir}/loss.svg`, svg);
  console.log(`\nwrote ${dir}/results.json and ${dir}/loss.svg`);
}

await runCli(main);
