/**
 * `deno task simulate`: SparseLoCo against centralized AdamW and dense DiLoCo in one process.
 * Writes results.json and loss.svg to --out and prints the comparison table.
 *
 *   deno task simulate [--replicas 4] [--H 30] [--rounds 10] [--batch 4] [--preset tiny]
 *                      [--lr 3e-3] [--alpha 1] [--beta 0.95] [--k 64] [--seed 1] [--out runs/simulate]
 *                      [--eval-batches 4] [--backend gpu|cpu] [--iid] [--methods a,b]
 *                      [--seeds 1,2,3,4,5]
 *
 * --backend cpu runs the same algorithm on the float32 TypeScript references (`cpuOps(32)`)
 * instead of WebGPU: on a machine with only a software GPU (SwiftShader) that is an order of
 * magnitude faster for the tiny preset. --iid lets every replica sample the whole training split
 * instead of its own contiguous quarter (see `SimulateOptions.iid`). --seeds runs every seed
 * and adds a table of the mean ± standard deviation of each method's final loss over the seeds,
 * and of the delayed outer step's cost against undelayed SparseLoCo at equal tokens
 * (`sparseloco-delayed` vs `sparseloco`, seed by seed).
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
      seeds: { type: "string" },
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
  const seeds = a.seeds === undefined
    ? [opts.seed]
    : (a.seeds as string).split(",").map((x) => num("seeds", x, 0, true));
  const runs: Awaited<ReturnType<typeof simulate>>[] = [];
  for (const seed of seeds) {
    if (seeds.length > 1) console.log(`seed ${seed}`);
    const o = { ...opts, seed };
    runs.push(
      rt
        ? await simulate(gpuOps(rt), corpus.tokens, o, report)
        : await simulate(cpuOps(32), corpus.tokens, o, report),
    );
  }
  const out = runs[0];
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
  const seedTable = seeds.length > 1 ? seedSummary(seeds, runs) : null;
  if (seedTable !== null) console.log(`\n${seedTable.lines.join("\n")}`);
  const dir = a.out as string;
  await Deno.mkdir(dir, { recursive: true });
  const results = {
    options: { ...opts, backend },
    adapter,
    params: out.params,
    denseFp32Bytes: out.denseBytes,
    rows,
    runs: out.results,
    ...(seedTable === null
      ? {}
      : { seeds: seedTable.summary, seedRuns: runs.map((r) => r.results) }),
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

/** Mean and sample standard deviation. */
function meanSd(xs: readonly number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1);
  return { mean, sd: Math.sqrt(v) };
}

/**
 * Final losses over the seeds, per method, and the delayed outer step against undelayed
 * SparseLoCo seed by seed (both the θ a delayed run holds and that θ with its last pending
 * aggregate applied).
 */
function seedSummary(seeds: readonly number[], runs: Awaited<ReturnType<typeof simulate>>[]) {
  const final = (r: { validLoss: number[] }) => r.validLoss[r.validLoss.length - 1];
  const methods = runs[0].results.map((r) => r.method);
  const of = (m: Method) => runs.map((run) => run.results.find((r) => r.method === m)!);
  const perMethod = methods.map((m) => ({
    method: m,
    finals: of(m).map(final),
    ...meanSd(of(m).map(final)),
  }));
  const lines = [
    `over ${seeds.length} seeds (${seeds.join(", ")}):`,
    "",
    "| method | final valid loss, mean ± sd |",
    "|---|---|",
    ...perMethod.map((p) => `| ${p.method} | ${p.mean.toFixed(4)} ± ${p.sd.toFixed(4)} |`),
  ];
  let delay = null;
  if (methods.includes("sparseloco") && methods.includes("sparseloco-delayed")) {
    const base = of("sparseloco").map(final), d = of("sparseloco-delayed");
    const held = d.map((r, i) => final(r) / base[i] - 1);
    const flushed = d.map((r, i) => r.flushedValidLoss! / base[i] - 1);
    delay = {
      held: { perSeed: held, ...meanSd(held) },
      flushed: { perSeed: flushed, ...meanSd(flushed) },
    };
    const pct = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}%`;
    lines.push(
      "",
      "| delayed outer step vs undelayed SparseLoCo, equal tokens | mean ± sd | per seed |",
      "|---|---|---|",
      `| θ the peers hold (last aggregate pending) | ${pct(delay.held.mean)} ± ${
        (100 * delay.held.sd).toFixed(1)
      }% | ${held.map(pct).join(", ")} |`,
      `| with the last aggregate applied | ${pct(delay.flushed.mean)} ± ${
        (100 * delay.flushed.sd).toFixed(1)
      }% | ${flushed.map(pct).join(", ")} |`,
    );
  }
  return { lines, summary: { seeds, perMethod, delay } };
}

await runCli(main);
