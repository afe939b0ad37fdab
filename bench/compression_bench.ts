/**
 * Compression benchmark for `deno task bench`: one SparseLoCo round's compression of one
 * parameter tensor by the GPU compressor and the TypeScript reference, the wire codec in both
 * index modes, the aggregation of 20 peers, for tensors of the given parameter counts; and the
 * bytes a peer reads back from the device per window for the tiny and small presets.
 *
 * Each size is one 2-D tensor of 64×64 tiles (rows a multiple of 64 × 4096 columns, the closest
 * to the asked count): the shape of a LLaMA projection, k = 64 per tile as in the reference run.
 * On SwiftShader stay at 1M–10M (10M: ~20–60 s in all); 100M needs ~2 GB of memory for the host
 * copies and a real GPU.
 *
 *   const rows = await benchCompression(rt, [1e6, 1e7]);
 */
import type { GpuRuntime } from "../src/gpu/runtime.ts";
import { compressorTraffic, GpuCompressor } from "../src/backend/compressor_gpu.ts";
import { compressTensor, DEFAULT_COMPRESS_OPTIONS } from "../src/reference/sparseloco/compress.ts";
import type { QuantizedTensor } from "../src/reference/sparseloco/compress.ts";
import { pseudoGradient } from "../src/reference/sparseloco/pseudo_gradient.ts";
import { presetConfig } from "../src/model/config.ts";
import { paramLayout } from "../src/model/params.ts";
import { aggregateTensor } from "../src/optim/sparseloco/aggregate.ts";
import type { Contribution } from "../src/optim/sparseloco/aggregate.ts";
import { TileGeometry } from "../src/reference/sparseloco/tiles.ts";
import { decodeUpdate, encodeUpdate } from "../src/codec/update_codec.ts";
import type { IndexMode, Update } from "../src/codec/update_codec.ts";
import { Rng } from "../src/util/rng.ts";

/** One measurement; `what`, `params` and `value` make the README table, the rest results.json. */
export interface Row {
  /** What was measured, e.g. "gpu compress (EF+top-k+quantize+residual)". */
  what: string;
  /** Parameters of the tensor. */
  params: number;
  /** Human-readable result, e.g. "41.2 M params/s (24.3 ms)". */
  value: string;
  /** Mean milliseconds per run. */
  ms: number;
  /** Throughput in `unit`. */
  rate: number;
  /** "params/s", "MB/s" (10⁶ bytes of encoded message per second) or "bytes" (per window). */
  unit: string;
  /** Runs averaged. */
  reps: number;
  /** Encoded message bytes (codec rows only). */
  bytes?: number;
}

/** Peers aggregated, the reference run's maximum. */
const PEERS = 20;
const TILE = 64;
const COLS = 4096;

/** Mean ms per call of `fn` after one warm-up call: at least `minMs` and 2 runs, at most `maxReps`. */
async function timeAsync(fn: () => Promise<unknown> | unknown, minMs = 500, maxReps = 20) {
  await fn();
  let reps = 0;
  const t0 = performance.now();
  while (reps < maxReps && (reps < 2 || performance.now() - t0 < minMs)) {
    await fn();
    reps++;
  }
  return { ms: (performance.now() - t0) / reps, reps };
}

/** A 2-D shape of 64×64 tiles close to `params` entries. */
function shapeFor(params: number): number[] {
  const rows = Math.max(TILE, Math.round(params / COLS / TILE) * TILE);
  return [rows, COLS];
}

function rateRow(what: string, params: number, ms: number, reps: number): Row {
  const rate = params / (ms / 1000);
  return {
    what,
    params,
    value: `${(rate / 1e6).toFixed(2)} M params/s (${ms.toFixed(1)} ms)`,
    ms,
    rate,
    unit: "params/s",
    reps,
  };
}

function codecRow(what: string, params: number, bytes: number, ms: number, reps: number): Row {
  const rate = bytes / 1e6 / (ms / 1000);
  return {
    what,
    params,
    value: `${rate.toFixed(1)} MB/s (${(bytes / 1e6).toFixed(2)} MB in ${ms.toFixed(1)} ms)`,
    ms,
    rate,
    unit: "MB/s",
    reps,
    bytes,
  };
}

/**
 * Bytes a peer reads back from the device per window, for the tiny and small presets: before,
 * the whole θ (4 bytes a parameter, padding included) for a CPU compression; now the
 * `GpuCompressor`'s kept indices and values (8 bytes each: 64 of 4096 per matrix tile, 1-D
 * tensors whole) and a non-finite count per tile. Pure arithmetic on the layout.
 */
export function readBackRows(presets = ["tiny", "small"]): Row[] {
  return presets.flatMap((name) => {
    const layout = paramLayout(presetConfig(name));
    const { readBack } = compressorTraffic(layout, {});
    const row = (what: string, bytes: number): Row => ({
      what: `read-back per window, ${name} preset: ${what}`,
      params: layout.count,
      value: `${(bytes / 1024).toFixed(1)} KiB (${(bytes / layout.count).toFixed(3)} B/param)`,
      ms: 0,
      rate: bytes,
      unit: "bytes",
      reps: 1,
      bytes,
    });
    return [row("whole θ (before)", 4 * layout.length), row("GpuCompressor", readBack)];
  });
}

/**
 * A peer's compressed tensor with a random selection (k distinct sorted locals per tile, partial
 * Fisher–Yates) and random codes: what aggregation sees from peers that trained on other data.
 */
function randomPeer(rng: Rng, shape: number[], k: number): QuantizedTensor {
  const g = TileGeometry.forShape(shape);
  const m = g.selectedCount(k);
  const indices = new Uint16Array(m);
  const perm = new Uint16Array(g.fullTileSize).map((_, i) => i);
  for (let t = 0; t < g.tileCount; t++) {
    const size = g.tileSize(t), kt = g.tileK(t, k), start = g.tileStart(t, k);
    for (let j = 0; j < kt; j++) {
      const r = j + rng.int(size - j);
      const x = perm[j];
      perm[j] = perm[r];
      perm[r] = x;
    }
    indices.set(perm.subarray(0, kt).slice().sort(), start);
  }
  const codes = new Uint8Array(m).map(() => rng.int(4));
  const s = 0.01 * (1 + rng.uniform());
  const table = new Float32Array([-2 * s, -s, 0.1 * s, s]);
  return { shape, tileRows: g.tileRows, tileCols: g.tileCols, k, indices, codes, table };
}

/**
 * Measures, for each size (parameters of one tensor; the caller picks them, e.g. [1e6, 1e7] on
 * SwiftShader, up to 1e8 on a GPU):
 * - the `GpuCompressor`: error feedback + top-k on the device, read-back of the kept indices and
 *   values, the reference quantizer on the host, upload of codes and table, residual;
 * - the TypeScript reference: `pseudoGradient` + `compressTensor` (the same result);
 * - `encodeUpdate` / `decodeUpdate` in both index modes (0: packed 12-bit, 1: Rice), MB/s of
 *   encoded message;
 * - `aggregateTensor` over 20 peers with independent random selections.
 * Logs one line per row and returns the rows. GPU tensors are pooled and disposed.
 */
export async function benchCompression(rt: GpuRuntime, sizes: number[]): Promise<Row[]> {
  const rows: Row[] = [];
  const log = (r: Row) => {
    rows.push(r);
    console.log(`compression ${r.what} [${r.params.toLocaleString("en")}]: ${r.value}`);
  };
  for (const size of sizes) {
    const shape = shapeFor(size);
    const n = shape[0] * shape[1];
    const rng = new Rng(n);
    const start = rng.uniforms(n, -1, 1);
    const end = start.map((x) => x - 1e-3 * (rng.uniform() - 0.5));
    const e0 = rng.uniforms(n, -1e-3, 1e-3);

    // GPU: θ_start, θ_end and e on the device; each run is one window of a one-tensor model.
    const layout = { entries: [{ name: "w", offset: 0, shape }], length: n };
    const compressor = new GpuCompressor(rt, layout, {});
    compressor.loadError(e0);
    const ts = rt.tensor(n, "f32", "bench.start"), tend = rt.tensor(n, "f32", "bench.end");
    rt.write(ts, start);
    rt.write(tend, end);
    const sent: { tensors?: QuantizedTensor[] } = {};
    const gpu = await timeAsync(async () => {
      compressor.begin(ts);
      sent.tensors = await compressor.compress(tend);
    });
    await rt.sync();
    log(rateRow("gpu compressor (EF+top-k on device, quantize on host, residual)", n, gpu.ms, gpu.reps));
    compressor.dispose();
    for (const t of [ts, tend]) rt.dispose(t);

    // TypeScript reference on the same data: Δ, then e = β·e + Δ, top-k, quantize, residual.
    const error = e0.slice();
    const delta = new Float32Array(n);
    const reference = await timeAsync(
      () => {
        pseudoGradient(start, end, delta);
        compressTensor(delta, error, shape);
      },
      500,
      5,
    );
    log(rateRow("ts reference compressTensor", n, reference.ms, reference.reps));

    // Codec: one tensor in a message, both index modes.
    const tensor = sent.tensors![0];
    for (const mode of [0, 1] as IndexMode[]) {
      const update: Update = {
        indexMode: mode,
        runId: new Uint8Array(32).fill(1),
        window: 7,
        modelHash: new Uint8Array(32).fill(2),
        tensors: [{ ...tensor, id: 0 }],
      };
      let bytes: Uint8Array = new Uint8Array(0);
      // Milliseconds per call at 1M parameters: many runs, so that the JIT has warmed up.
      const enc = await timeAsync(
        () => {
          bytes = encodeUpdate(update);
        },
        300,
        1000,
      );
      const name = mode === 0 ? "packed 12-bit" : "Rice";
      log(codecRow(`encodeUpdate (${name})`, n, bytes.length, enc.ms, enc.reps));
      const dec = await timeAsync(() => decodeUpdate(bytes, { maxBytes: 1 << 30 }), 300, 1000);
      log(codecRow(`decodeUpdate (${name})`, n, bytes.length, dec.ms, dec.reps));
    }

    // Aggregation of 20 peers with independent selections.
    const contributions: Contribution[] = Array.from({ length: PEERS }, (_, i) => ({
      peer: `peer-${String(i).padStart(2, "0")}`,
      tensor: randomPeer(rng, shape, DEFAULT_COMPRESS_OPTIONS.k),
    }));
    const agg = await timeAsync(() => aggregateTensor(contributions), 500, 5);
    log(rateRow(`aggregateTensor ${PEERS} peers`, n, agg.ms, agg.reps));
  }
  for (const r of readBackRows()) log(r);
  return rows;
}
