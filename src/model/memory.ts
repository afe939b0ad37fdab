/**
 * What one training step of a model needs in memory, counted from the buffers the code really
 * allocates (src/model/llama.ts, src/train/trainer.ts, src/backend/compressor_gpu.ts), and a
 * check against an adapter's buffer limits, so that a preset too large for a device is refused
 * with one line before any WebGPU allocation fails somewhere deep inside a kernel.
 *
 * Not counted: kernel scratch (a few KiB: clip partials, uniforms), WebGPU's own staging for
 * reads, and the host copies of θ a role keeps between windows (one `params` each).
 *
 * Buffers in the flat parameter layout (θ, gradients, AdamW moments, θ_start, error feedback)
 * and the compressor's read-back and upload buffers are split across GPU buffers past one
 * binding (src/gpu/runtime.ts), so what must fit one buffer there is their largest named tensor;
 * every other buffer (activations, logits) must fit whole.
 *
 * @module
 */
import { compressorTraffic } from "../backend/compressor_gpu.ts";
import { ConfigError, type ModelConfig } from "./config.ts";
import { PARAM_ALIGN, paramLayout } from "./params.ts";

/** What holds the model: which buffers exist depends on the role. */
export type MemoryRole = "train" | "peer" | "validator";

/** One allocation (or a group of equal ones) and its size in bytes. */
export interface MemoryPart {
  /** What it is, as an error message or a table names it. */
  what: string;
  /** Bytes of all buffers in the group. */
  bytes: number;
  /**
   * Bytes of the largest piece of the group that must lie in one GPU buffer: a whole buffer,
   * or of a buffer split across GPU buffers its largest named tensor (`tensor`).
   */
  largest: number;
  /** The label of that buffer in the code (`params`, `l0.g`, `logits`, …). */
  label: string;
  /** For a split buffer: the tensor that is its largest piece. */
  tensor?: string;
}

/** The needs of one model at one batch size, per role. */
export interface MemoryNeeds {
  role: MemoryRole;
  batch: number;
  seqLen: number;
  parts: MemoryPart[];
  total: number;
  /** The part with the largest piece that must lie in one GPU buffer. */
  largest: MemoryPart;
  /** Whether the matmuls' input activations are counted as packed f16 (`f16Activations`). */
  f16Activations: boolean;
  /**
   * Bytes the f16-activation mode (src/backend/gpu_ops_f16.ts, `activations: true`) saves
   * against f32 activations at this batch: saved already when `f16Activations`, else what it
   * would save.
   */
  f16Saving: number;
}

/** The two limits of a WebGPU device that bound one buffer (GPUSupportedLimits fields). */
export interface BufferLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/** WebGPU's default limits: what a browser gives a page that asks for nothing more. */
export const WEBGPU_DEFAULT_LIMITS: BufferLimits = {
  maxStorageBufferBindingSize: 128 * 2 ** 20,
  maxBufferSize: 256 * 2 ** 20,
};

const F32 = 4, U32 = 4;

/**
 * The buffers `role` allocates for `config` at `batch` sequences of `seqLen` tokens
 * (the trainer and the roles use the model's context). `train`: model, gradients and
 * backward scratch, AdamW m and v. `peer`: that plus the compressor's θ_start and error
 * feedback and its read-back/upload buffers. `validator`: the forward-only model.
 * `recompute`: the model's activation checkpointing (src/model/llama.ts). `f16Activations`: the
 * GPU backend that stores the matmuls' input activations (xn, xn2, att, h per layer, xfn) as
 * packed f16 (src/backend/gpu_ops_f16.ts): 2 bytes each, rounded up to whole 4-byte words.
 */
export function memoryNeeds(
  config: ModelConfig,
  role: MemoryRole,
  batch: number,
  seqLen = config.context,
  { recompute = false, f16Activations = false }: { recompute?: boolean; f16Activations?: boolean } =
    {},
): MemoryNeeds {
  const layout = paramLayout(config);
  const P = layout.length * F32;
  const BT = batch * seqLen, C = config.dModel, NH = config.nHeads, D = C / NH;
  const QD = NH * D, KD = config.nKvHeads * D, F = config.ffnHidden, V = config.vocabSize;
  const L = config.nLayers;
  const parts: MemoryPart[] = [];
  const add = (what: string, label: string, sizes: number[]) =>
    parts.push({
      what,
      label,
      bytes: sizes.reduce((a, b) => a + b, 0),
      largest: Math.max(...sizes),
    });
  // A flat-layout buffer is split between tensors: its largest piece is its largest tensor.
  const big = layout.entries.reduce((a, e) => (e.size > a.size ? e : a));
  const flat = (what: string, label: string, buffers: number, extra = 0) =>
    parts.push({
      what,
      label,
      bytes: buffers * P + extra,
      largest: F32 * Math.ceil(big.size / PARAM_ALIGN) * PARAM_ALIGN,
      tensor: big.name,
    });
  flat("parameters", "params", 1);
  // Per layer (Llama.acts): x xn ao x2 xn2 mo (BT·C), q qr att (BT·QD), k v kr (BT·KD),
  // g u h (BT·F), rstd rstd2 (BT), lse (B·NH·T). The largest is one of g/u/h or q/qr/att.
  const layerSizes = [6 * BT * C, 3 * BT * QD, 3 * BT * KD, 3 * BT * F, 2 * BT, BT * NH];
  // g, u and q, qr stay f32 with f16 activations: the largest is the same.
  const layerLargest = F32 * BT * Math.max(C, QD, F);
  // Bytes that packing xn, xn2 (BT·C), att (BT·QD) and h (BT·F) saves in one layer; xfn (BT·C).
  const saved = (n: number) => F32 * n - U32 * Math.ceil(n / 2);
  const layerSaving = 2 * saved(BT * C) + saved(BT * QD) + saved(BT * F);
  const f16Saving = (recompute ? layerSaving : L * layerSaving) + saved(BT * C);
  const layerSaved = f16Activations ? layerSaving : 0;
  const perLayer = F32 * layerSizes.reduce((a, b) => a + b, 0) - layerSaved;
  // With `recompute` (Llama's activation checkpointing) each layer keeps only its input x; the
  // other buffers of one layer are shared by all.
  const inF16 = f16Activations ? ", matmul inputs f16" : "";
  parts.push({
    what: recompute
      ? `activations (${L} layer inputs + one layer, recomputed${inF16})`
      : `activations of ${L} layers${inF16}`,
    label: F >= Math.max(C, QD) ? "l0.g" : "l0.q",
    bytes: recompute ? perLayer + (L - 1) * F32 * BT * C : perLayer * L,
    largest: layerLargest,
  });
  // tokens targets positions (BT u32), rowStart (V+1 u32), rope (T·D), xFinal xfn (BT·C),
  // rstdF losses (BT), logits (BT·V).
  add("logits", "logits", [F32 * BT * V]);
  add("inputs, RoPE table, final norm, losses", "xFinal", [
    3 * U32 * BT,
    U32 * (V + 1),
    F32 * seqLen * D,
    F32 * BT * C,
    F32 * BT * C - (f16Activations ? saved(BT * C) : 0),
    2 * F32 * BT,
  ]);
  if (role !== "validator") {
    flat("gradients", "grads", 1);
    // dres dxn dtmp (BT·C), dq dqr datt (BT·QD), dk dv dkr (BT·KD), dh dg du (BT·F), dlogits.
    add("backward scratch", "dlogits", [
      F32 * BT * V,
      ...[C, QD, KD, F].flatMap((n) => [F32 * BT * n, F32 * BT * n, F32 * BT * n]),
    ]);
    flat("AdamW moments m, v", "adam.m", 2, 2 * F32); // + the clip scalars
  }
  if (role === "peer") {
    flat("θ_start, error feedback", "compressor.e", 2);
    const t = compressorTraffic(layout, {});
    parts.push({
      what: "compressor read-back, upload",
      label: "compressor.read_back",
      bytes: t.readBack + t.upload,
      largest: t.largestPart,
    });
  }
  const total = parts.reduce((a, p) => a + p.bytes, 0);
  const largest = parts.reduce((a, p) => (p.largest > a.largest ? p : a));
  return { role, batch, seqLen, parts, total, largest, f16Activations, f16Saving };
}

/** Bytes as `3.65 GiB`, `128 MiB`, `12.0 KiB`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  const text = i === 0 || Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 1);
  return `${text} ${units[i]}`;
}

/** Lines for a log: the total, then each part. */
export function describeMemory(name: string, m: MemoryNeeds): string[] {
  return [
    `memory (${m.role}, ${name}, batch ${m.batch} × ${m.seqLen}): ${
      formatBytes(m.total)
    } in all, ` +
    `largest binding ${formatBytes(m.largest.largest)} (${where(m.largest)})`,
    ...m.parts.map((p) => `  ${p.what}: ${formatBytes(p.bytes)}`),
    m.f16Activations
      ? `  (f16 activations save ${formatBytes(m.f16Saving)} against f32)`
      : `  with f16 activations (opt-in GPU backend gpuOpsF16, activations): ` +
        `${formatBytes(m.f16Saving)} less, ${formatBytes(m.total - m.f16Saving)} in all`,
  ];
}

/** `params: model.embed_tokens.weight` for a split buffer's piece, `l0.g` for a whole buffer. */
function where(p: MemoryPart): string {
  return p.tensor === undefined ? p.label : `${p.label}: ${p.tensor}`;
}

/**
 * Throws {@linkcode ConfigError} when a piece of `m` that must lie in one buffer is larger
 * than the device can allocate (`maxBufferSize`) or bind (`maxStorageBufferBindingSize`; every
 * buffer here is a storage binding of some kernel), e.g. `preset 1b needs a 256 MiB buffer for
 * the activations of 16 layers (l0.g); this adapter binds at most 128 MiB per buffer
 * (maxStorageBufferBindingSize)`. Buffers split across GPU buffers count by their largest
 * tensor, so a model larger than one binding passes; whether all of it fits the device's
 * memory is not known here (WebGPU does not say how much it has).
 */
export function checkBufferLimits(name: string, m: MemoryNeeds, limits: BufferLimits): void {
  const p = m.largest;
  const over = (limit: number, verb: string, field: string) => {
    if (p.largest > limit) {
      throw new ConfigError(
        `${name} needs a ${formatBytes(p.largest)} buffer for the ${p.what} (${where(p)}); ` +
          `this adapter ${verb} at most ${formatBytes(limit)} per buffer (${field})`,
      );
    }
  };
  over(limits.maxBufferSize, "allocates", "maxBufferSize");
  over(limits.maxStorageBufferBindingSize, "binds", "maxStorageBufferBindingSize");
}

/**
 * Throws {@linkcode ConfigError} when `m` needs more than `available` bytes of host memory
 * (the CPU backend keeps every buffer in one process).
 */
export function checkHostMemory(name: string, m: MemoryNeeds, available: number): void {
  if (m.total > available) {
    throw new ConfigError(
      `${name} needs ${formatBytes(m.total)} for one ${m.role} step at batch ${m.batch}; ` +
        `this machine has ${formatBytes(available)} of memory`,
    );
  }
}
