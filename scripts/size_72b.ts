/**
 * The reference run's size on paper: a 72B LLaMA peer on 8 GPUs in one process. Every number
 * of the generated part of docs/72B.md comes from here, from the project's own formulas
 * (`paramLayout`, `memoryNeeds`, `TileGeometry`) and from update payloads really encoded by the
 * project's codec (a seeded sample of each tensor shape, scaled by the tile count), so the
 * document cannot drift from the code: `scripts/size_72b_test.ts` regenerates it and compares.
 *
 *   deno run -A scripts/size_72b.ts          # rewrites the block between the markers
 *   deno run -A scripts/size_72b.ts --print  # prints it
 *
 * @module
 */
import { encodeUpdate, type IndexMode, UPDATE_HEADER_BYTES } from "../src/codec/update_codec.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { formatBytes, memoryNeeds } from "../src/model/memory.ts";
import { paramLayout } from "../src/model/params.ts";
import { compressTensor, type QuantizedTensor } from "../src/reference/sparseloco/compress.ts";
import { TileGeometry } from "../src/reference/sparseloco/tiles.ts";
import { writeFileAtomic } from "../src/util/atomic_write.ts";
import { Rng } from "../src/util/rng.ts";

/**
 * The assumed shape. The specs say only "a 72B LLaMA-style model": this is LLaMA-3-70B's layer
 * stack (d 8192, 80 layers, 64 query / 8 KV heads, SwiGLU 28672) with a 262,144-token
 * vocabulary and an untied head, which makes 72.7B parameters. Change it here and rerun.
 */
export const CONFIG_72B: ModelConfig = {
  vocabSize: 262144,
  dModel: 8192,
  nLayers: 80,
  nHeads: 64,
  nKvHeads: 8,
  ffnHidden: 28672,
  context: 2048,
  ropeTheta: 500000,
  normEps: 1e-5,
  tiedEmbeddings: false,
};

/** The reference run's round (specs/SPARSELOCO.md) and the machine assumed for one peer. */
export const PLAN = {
  gpus: 8,
  /** H200 SXM: 141 GB of HBM3e (the device machines lent here have one). */
  gpuBytes: 141e9,
  /** B200 as in NVIDIA's DGX B200: 180 GB each. */
  b200Bytes: 180e9,
  innerSteps: 30,
  sequencesPerStep: 192,
  contributors: 20,
  /** Micro-batch per pipeline stage (sequences): gradients accumulate over 192 of them. */
  microBatch: 1,
  /** Host ↔ GPU copy bandwidth assumed per GPU (PCIe 5 x16 in practice: ~25 GB/s per direction). */
  pcieBytesPerSec: 25e9,
  /** Link assumed for one peer's uploads and downloads. */
  linkBitsPerSec: 1e9,
} as const;

/** Per-GPU throughputs the round time is stated at (TFLOP/s sustained, not peak). */
export const THROUGHPUTS = [
  {
    what: "f32 kernels at 50% of H200 fp32 peak (67 TFLOP/s): issue 13's matmul target",
    tflops: 33.5,
  },
  { what: "f16 tensor cores at 30% of H200 dense f16 peak (989 TFLOP/s)", tflops: 297 },
  { what: "bf16 at 40% of H200 dense peak (what a tuned CUDA trainer reaches)", tflops: 396 },
] as const;

/** Host-side rates measured on this machine (2026-12-01, 2 shared cores; bench/results.json). */
export const MEASURED = {
  /** `aggregateTensor`, 20 peers, TypeScript, wall (bench/results.json, compression rows). */
  aggregateParamsPerSec: 27.51e6,
  /** WebCrypto SHA-256 (src/util/hash.ts `sha256`), 4 × 256 MiB, per CPU-second. */
  sha256BytesPerSec: 0.64e9,
} as const;

const F32 = 4;

/** Bytes of one tensor's part of an encoded update (header excluded), from a real encoding. */
function encodedTensorBytes(shape: number[], mode: IndexMode, seed: number): number {
  const n = shape.reduce((a, b) => a * b, 1);
  const rng = new Rng(seed);
  const delta = rng.normals(n);
  const t = compressTensor(delta, new Float32Array(n), shape) as QuantizedTensor;
  const bytes = encodeUpdate({
    indexMode: mode,
    runId: new Uint8Array(32),
    window: 0,
    modelHash: new Uint8Array(32),
    tensors: [{ ...t, id: 0 }],
  });
  return bytes.length - UPDATE_HEADER_BYTES;
}

/**
 * One peer's update payload for `config` in `mode`: each 2-D tensor as a fixed part plus its
 * tile count × the bytes of a tile, both measured on two encoded samples of 64 and 128 tiles;
 * each 1-D tensor encoded whole.
 */
export function payloadBytes(config: ModelConfig, mode: IndexMode): number {
  const small = encodedTensorBytes([512, 512], mode, 1);
  const large = encodedTensorBytes([1024, 512], mode, 2);
  const perTile = (large - small) / 64;
  const fixed = small - 64 * perTile;
  const oneD = new Map<number, number>();
  let total = UPDATE_HEADER_BYTES;
  for (const e of paramLayout(config).entries) {
    if (e.shape.length === 1) {
      const n = e.shape[0];
      if (!oneD.has(n)) oneD.set(n, encodedTensorBytes([n], mode, 3));
      total += oneD.get(n)!;
    } else {
      const g = TileGeometry.forShape(e.shape);
      if (g.tileRows !== 64 || g.tileCols !== 64) throw new Error(`${e.name}: tiles are not 64×64`);
      total += fixed + g.tileCount * perTile;
    }
  }
  return Math.round(total);
}

/** Parameters of each pipeline stage: layers split evenly, embedding first, norm and head last. */
export function stageParams(config: ModelConfig, stages: number): number[] {
  const per = Math.ceil(config.nLayers / stages);
  const out = new Array(stages).fill(0);
  for (const e of paramLayout(config).entries) {
    const m = /^model\.layers\.(\d+)\./.exec(e.name);
    const stage = m
      ? Math.floor(Number(m[1]) / per)
      : e.name === "model.embed_tokens.weight"
      ? 0
      : stages - 1;
    out[stage] += e.size;
  }
  return out;
}

const gb = (n: number) => n >= 1e12 ? `${(n / 1e12).toFixed(2)} TB` : `${(n / 1e9).toFixed(1)} GB`;
const fmtS = (s: number) =>
  s >= 3600
    ? `${(s / 3600).toFixed(1)} h`
    : s >= 60
    ? `${(s / 60).toFixed(1)} min`
    : `${s.toFixed(1)} s`;

/** The generated block of docs/72B.md. */
export function render(): string {
  const c = CONFIG_72B, P = PLAN;
  const layout = paramLayout(c);
  const N = layout.count;
  const T = c.context, C = c.dModel, V = c.vocabSize;
  const stages = stageParams(c, P.gpus);
  const layersPerStage = Math.ceil(c.nLayers / P.gpus);
  // One stage's activations at the micro-batch, with recompute (memoryNeeds' own terms).
  const stageNeeds = memoryNeeds({ ...c, nLayers: layersPerStage }, "train", P.microBatch, T, {
    recompute: true,
  });
  const part = (label: string) => stageNeeds.parts.find((p) => p.label === label)!.bytes;
  const BT = P.microBatch * T;
  const logitsBytes = F32 * BT * V;
  const acts = part("l0.g");
  const scratchNoLogits = part("dlogits") - logitsBytes;
  const noRecompute = memoryNeeds({ ...c, nLayers: layersPerStage }, "train", P.microBatch, T)
    .parts.find((p) => p.label === "l0.g")!.bytes;
  const largest = layout.entries.reduce((a, e) => (e.size > a.size ? e : a));

  const rows: string[] = [];
  rows.push(
    `| | value |`,
    `|---|---|`,
    `| shape | d ${C} × ${c.nLayers} layers, ${c.nHeads}/${c.nKvHeads} heads, SwiGLU ${c.ffnHidden}, vocab ${
      V.toLocaleString("en")
    }, context ${T}, untied head |`,
    `| parameters | ${(N / 1e9).toFixed(2)}B (${N.toLocaleString("en")}) |`,
    `| θ as f32 (one copy; also the model hash's input and a checkpoint) | ${gb(F32 * N)} |`,
    `| largest tensor | \`${largest.name}\` ${largest.shape.join("×")}: ${
      formatBytes(F32 * largest.size)
    } |`,
    `| tokens per peer per round (H ${P.innerSteps} × ${P.sequencesPerStep} × ${T}) | ${
      (P.innerSteps * P.sequencesPerStep * T / 1e6).toFixed(1)
    }M |`,
  );

  const mem: string[] = [
    `| per GPU (pipeline stage of ${layersPerStage} layers, micro-batch ${P.microBatch} × ${T}, recompute on) | GPU 0 (+ embedding) | GPUs 1–${
      P.gpus - 2
    } | GPU ${P.gpus - 1} (+ norm, head, logits) |`,
    `|---|---|---|---|`,
  ];
  // The three kinds of stage: first, middle, last (index into `stages`).
  const shown = [0, 1, P.gpus - 1];
  const col = (f: (s: number, i: number) => number) =>
    shown.map((i) => gb(f(stages[i], i))).join(" | ");
  const state = (s: number) => 4 * F32 * s;
  const logitsFor = (i: number) => (i === P.gpus - 1 ? 2 * logitsBytes : 0);
  const total = (s: number, i: number) => state(s) + acts + scratchNoLogits + logitsFor(i);
  mem.push(
    `| parameters in the stage | ${
      shown.map((i) => `${(stages[i] / 1e9).toFixed(2)}B`).join(" | ")
    } |`,
    `| θ, gradients, AdamW m and v (f32, 16 B a parameter) | ${col((s) => state(s))} |`,
    `| layer activations (${layersPerStage} inputs + one layer; ${
      gb(noRecompute)
    } without recompute) | ${col(() => acts)} |`,
    `| backward scratch | ${col(() => scratchNoLogits)} |`,
    `| logits + their gradient | ${col((_, i) => logitsFor(i))} |`,
    `| **total** | ${col(total)} |`,
    `| fits ${gb(P.gpuBytes)} (H200)? | ${
      shown.map((i) => (total(stages[i], i) <= P.gpuBytes ? "yes" : "**no**")).join(" | ")
    } |`,
    `| fits ${gb(P.b200Bytes)} (B200)? | ${
      shown.map((i) => (total(stages[i], i) <= P.b200Bytes ? "yes" : "**no**")).join(" | ")
    } |`,
    `| total with AdamW m, v in bf16 (12 B a parameter; not implemented) | ${
      col((s, i) => total(s, i) - 2 * 2 * s)
    } |`,
  );
  const allGpus = stages.reduce((sum, s, i) => sum + total(s, i), 0);
  mem.push(
    "",
    `All ${P.gpus} stages together need **${gb(allGpus)}** against ${
      gb(P.gpus * P.gpuBytes)
    } on ${P.gpus} H200s and ${gb(P.gpus * P.b200Bytes)} on ${P.gpus} B200s.`,
  );
  const hostBytes = 3 * F32 * N;
  mem.push(
    "",
    `Host memory of the peer: θ_start and the error feedback offloaded while training (2 × ${
      gb(F32 * N)
    }), and θ for the outer step and the hash (${gb(F32 * N)}): **${gb(hostBytes)}**.`,
  );

  const net: string[] = [
    `| bytes per peer per round | packed 12-bit indices (mode 0) | Rice-coded gaps (mode 1, default) |`,
    `|---|---|---|`,
  ];
  const pay = [payloadBytes(c, 0), payloadBytes(c, 1)];
  const up = pay, down = pay.map((p) => p * P.contributors);
  net.push(
    `| one update payload (upload, once) | ${pay.map(gb).join(" | ")} |`,
    `| ${P.contributors} contributors' payloads (download) | ${down.map(gb).join(" | ")} |`,
    `| time on a ${P.linkBitsPerSec / 1e9} Gbit/s link (up + down) | ${
      up.map((u, i) => fmtS(((u + down[i]) * 8) / P.linkBitsPerSec)).join(" | ")
    } |`,
    `| against dense f32 θ | ${
      pay.map((p) => `${(F32 * N / p).toFixed(0)}× smaller`).join(" | ")
    } |`,
  );

  // FLOPs of one round: forward 2N + causal attention 2·L·T·d per token; training = forward,
  // backward (2 forwards), and the recompute (one forward more).
  const tokens = P.innerSteps * P.sequencesPerStep * T;
  const fwdPerToken = 2 * N + 2 * c.nLayers * T * C;
  const flops = 4 * fwdPerToken * tokens;
  const microBatches = P.sequencesPerStep / P.microBatch;
  const bubble = (P.gpus - 1) / (microBatches + P.gpus - 1);
  // Pipeline boundaries: each micro-batch's activations forward and gradients backward, each
  // read back from one device and written to the next (2 copies through the host).
  const boundaryBytes = F32 * BT * C;
  const hostCopyBytes = P.innerSteps * microBatches * (P.gpus - 1) * 2 * 2 * boundaryBytes;
  const copySeconds = hostCopyBytes / (P.gpus * P.pcieBytesPerSec);
  const timeRows = [
    `| time per round | compute (${(flops / 1e18).toFixed(2)} EFLOP, + ${
      (100 * bubble).toFixed(1)
    }% pipeline bubble) | activations between GPUs through the host (${
      gb(hostCopyBytes)
    }) | outer step on the host: aggregate ${P.contributors} payloads (TS, measured rate) | model hash (one SHA-256 over θ) |`,
    `|---|---|---|---|---|`,
  ];
  const aggSeconds = N / MEASURED.aggregateParamsPerSec;
  const hashSeconds = F32 * N / MEASURED.sha256BytesPerSec;
  for (const t of THROUGHPUTS) {
    const s = flops / (P.gpus * t.tflops * 1e12) / (1 - bubble);
    timeRows.push(
      `| ${t.what} | ${fmtS(s)} | ${fmtS(copySeconds)} | ${fmtS(aggSeconds)} | ${
        fmtS(hashSeconds)
      } |`,
    );
  }
  return [
    "Generated by `deno run -A scripts/size_72b.ts` (do not edit by hand).",
    "",
    ...rows,
    "",
    ...mem,
    "",
    ...net,
    "",
    ...timeRows,
    "",
    `Assumed: ${P.gpus} GPUs of ${gb(P.gpuBytes)}, host copies at ${
      P.pcieBytesPerSec / 1e9
    } GB/s per GPU, a ${P.linkBitsPerSec / 1e9} Gbit/s link; ` +
    `measured here (2026-12-01, 2 shared cores): aggregation ${
      (MEASURED.aggregateParamsPerSec / 1e6).toFixed(1)
    } M params/s (wall, loaded), SHA-256 ${
      (MEASURED.sha256BytesPerSec / 1e9).toFixed(2)
    } GB per CPU-second.`,
  ].join("\n");
}

export const START = "<!-- size72b:start -->", END = "<!-- size72b:end -->";

/** `doc` with the generated block replaced by `render()`. */
export function updateDoc(doc: string): string {
  const i = doc.indexOf(START), j = doc.indexOf(END);
  if (i < 0 || j < i) throw new Error(`docs/72B.md lacks the ${START} … ${END} markers`);
  return doc.slice(0, i + START.length) + "\n" + render() + "\n" + doc.slice(j);
}

if (import.meta.main) {
  if (Deno.args.includes("--print")) console.log(render());
  else {
    const path = new URL("../docs/72B.md", import.meta.url);
    await writeFileAtomic(path.pathname, updateDoc(await Deno.readTextFile(path)));
    console.log("docs/72B.md updated");
  }
}
