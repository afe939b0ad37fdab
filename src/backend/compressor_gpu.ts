/**
 * The GPU compressor: θ_start and the error-feedback buffer e stay on the device between
 * windows. Per window, per tensor: fused Δ + error feedback and tile top-k with the gather of
 * the kept values on the GPU (bit-exact, src/kernels/sparseloco.ts); one read-back of all kept
 * indices and values (8 bytes each, plus a non-finite count per tile: ≈ 1/32 of θ's 4 bytes a
 * parameter at 64 of 4096); the quantizer on the host with the reference's own `quantize2Bit` (its statistics
 * are float64 sums, which a GPU would only approximate); one upload of the packed codes and
 * tables; the residual e −= table[code] on the GPU. The payload and e are byte-identical to
 * `cpuCompressor`'s.
 *
 * Every buffer may be split across GPU buffers when larger than one binding (src/gpu/runtime.ts):
 * θ_start and e like the parameters (between tensors), the read-back and upload buffers between
 * each tensor's parts, so every kernel still binds one tensor's range of one buffer.
 *
 * @module
 */

import { type Compressor, type CompressorLayout, wireOptions } from "./compressor.ts";
import type { GpuRuntime, GpuTensor, SplitPoint } from "../gpu/runtime.ts";
import {
  CODES_PER_WORD,
  type CompressPlan,
  errorFeedback,
  packCodes,
  planCompression,
  residualUpdate,
  tileTopK,
} from "../kernels/sparseloco.ts";
import { DEFAULT_COMPRESS_OPTIONS } from "../reference/sparseloco/compress.ts";
import type { CompressOptions, QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { checkLayout, type TensorEntry } from "../reference/sparseloco/compress_model.ts";
import { QUANT_BINS, quantize2Bit } from "../reference/sparseloco/quantize.ts";

/** Elements a GPU binding starts on (256 bytes): every segment is padded to it. */
const ALIGN = 64;
const aligned = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** Where one tensor's parts lie in the shared buffers (elements). */
interface Slot {
  entry: TensorEntry;
  plan: CompressPlan;
  numel: number;
  /** In the read-back buffer: kept indices (M u32), kept values (M f32), bad tiles (T u32). */
  indicesAt: number;
  valuesAt: number;
  badAt: number;
  /** In the upload buffer: packed codes (⌈M/16⌉ u32). */
  codesAt: number;
}

/** Where every tensor's parts lie in the shared read-back and upload buffers. */
interface Plan {
  slots: Slot[];
  /** Elements of the read-back buffer. */
  read: number;
  /** Elements of the upload buffer: every tensor's codes, then the tables (4 each). */
  upload: number;
  /** Table of tensor i at tablesAt + 4i of the upload buffer. */
  tablesAt: number;
  /** Where the read-back and upload buffers may be split (each part's start). */
  readSplit: SplitPoint[];
  uploadSplit: SplitPoint[];
}

function planSlots(layout: CompressorLayout, opts: CompressOptions): Plan {
  checkLayout(layout.entries, layout.length);
  let read = 0, upload = 0;
  const readSplit: SplitPoint[] = [], uploadSplit: SplitPoint[] = [];
  const slots = layout.entries.map((entry) => {
    if (entry.offset % ALIGN !== 0) {
      throw new RangeError(
        `GpuCompressor: tensor ${entry.name} at ${entry.offset} is not on ${ALIGN} elements`,
      );
    }
    const plan = planCompression(entry.shape, opts);
    const m = plan.selected;
    const slot = {
      entry,
      plan,
      numel: plan.geometry.numel,
      indicesAt: read,
      valuesAt: read + aligned(m),
      badAt: read + 2 * aligned(m),
      codesAt: upload,
    };
    readSplit.push(
      { name: `${entry.name} (kept indices)`, offset: slot.indicesAt },
      { name: `${entry.name} (kept values)`, offset: slot.valuesAt },
      { name: `${entry.name} (non-finite counts)`, offset: slot.badAt },
    );
    uploadSplit.push({ name: `${entry.name} (codes)`, offset: upload });
    read += 2 * aligned(m) + aligned(plan.geometry.tileCount);
    upload += aligned(Math.ceil(m / CODES_PER_WORD));
    return slot;
  });
  uploadSplit.push({ name: "quantizer tables", offset: upload });
  return {
    slots,
    read,
    upload: upload + QUANT_BINS * slots.length,
    tablesAt: upload,
    readSplit,
    uploadSplit,
  };
}

/**
 * Bytes a {@link GpuCompressor} for `layout` moves per window: read back (kept indices and
 * values, non-finite counts) and uploaded (packed codes, tables); and `largestPart`, the bytes of
 * the largest part that must lie in one buffer when those two are split. Throws like the
 * constructor.
 */
export function compressorTraffic(
  layout: CompressorLayout,
  options: Partial<CompressOptions>,
): { readBack: number; upload: number; largestPart: number } {
  const p = planSlots(layout, { ...DEFAULT_COMPRESS_OPTIONS, ...wireOptions(options) });
  const largest = (split: SplitPoint[], length: number) =>
    Math.max(
      ...split.map((s, i) => (i + 1 < split.length ? split[i + 1].offset : length) - s.offset),
    );
  return {
    readBack: 4 * p.read,
    upload: 4 * p.upload,
    largestPart: 4 * Math.max(largest(p.readSplit, p.read), largest(p.uploadSplit, p.upload)),
  };
}

/** A compressor on `rt` for `layout` (tensor offsets on 64 elements, as `paramLayout` makes). */
export class GpuCompressor implements Compressor<GpuTensor> {
  readonly onDevice = true;
  readonly #rt: GpuRuntime;
  readonly #length: number;
  readonly #beta: number;
  readonly #rangeSigmas: number;
  readonly #slots: Slot[];
  readonly #tablesAt: number;
  readonly #e: GpuTensor;
  readonly #start: GpuTensor;
  readonly #readBack: GpuTensor;
  readonly #upload: GpuTensor;
  #begun = false;

  constructor(rt: GpuRuntime, layout: CompressorLayout, options: Partial<CompressOptions>) {
    const opts = { ...DEFAULT_COMPRESS_OPTIONS, ...wireOptions(options) };
    const plan = planSlots(layout, opts);
    this.#slots = plan.slots;
    this.#tablesAt = plan.tablesAt;
    this.#rt = rt;
    this.#length = layout.length;
    this.#beta = opts.beta;
    this.#rangeSigmas = opts.rangeSigmas;
    this.#e = rt.tensor(layout.length, "f32", "compressor.e", layout.entries);
    this.#start = rt.tensor(layout.length, "f32", "compressor.start", layout.entries);
    this.#readBack = rt.tensor(plan.read, "u32", "compressor.read_back", plan.readSplit);
    this.#upload = rt.tensor(plan.upload, "u32", "compressor.upload", plan.uploadSplit);
  }

  begin(params: GpuTensor): void {
    this.#checkLength(params, "params");
    this.#rt.copy(this.#start, params);
    this.#begun = true;
  }

  async compress(params: GpuTensor): Promise<QuantizedTensor[]> {
    if (!this.#begun) throw new Error("compressor: compress without begin");
    this.#checkLength(params, "params");
    this.#begun = false;
    const rt = this.#rt, rb = this.#readBack;
    for (const s of this.#slots) {
      const e = this.#view(this.#e, s), start = this.#view(this.#start, s);
      errorFeedback(rt, e, start, this.#view(params, s), s.numel, this.#beta);
      const m = s.plan.selected;
      tileTopK(
        rt,
        e,
        s.plan,
        rt.view(rb, s.indicesAt, m),
        rt.view(rb, s.valuesAt, m),
        rt.view(rb, s.badAt, s.plan.geometry.tileCount),
      );
    }
    const words = await rt.readU32(rb);
    const floats = new Float32Array(words.buffer, words.byteOffset, words.length);
    const upload = new Uint32Array(this.#upload.length);
    const tables = new Float32Array(upload.buffer);
    const tensors = this.#slots.map((s, i): QuantizedTensor => {
      const { geometry, k, selected: m } = s.plan;
      for (let t = 0; t < geometry.tileCount; t++) {
        if (words[s.badAt + t] !== 0) {
          throw new RangeError(`compressor: non-finite error-feedback value in ${s.entry.name}`);
        }
      }
      const q = quantize2Bit(floats.subarray(s.valuesAt, s.valuesAt + m), {
        rangeSigmas: this.#rangeSigmas,
      });
      packCodes(q.codes, upload.subarray(s.codesAt));
      tables.set(q.table, this.#tablesAt + QUANT_BINS * i);
      return {
        shape: [...s.entry.shape],
        tileRows: geometry.tileRows,
        tileCols: geometry.tileCols,
        k,
        indices: Uint16Array.from(words.subarray(s.indicesAt, s.indicesAt + m)), // < MAX_TILE_SIZE
        codes: q.codes,
        table: q.table,
      };
    });
    rt.write(this.#upload, upload);
    const tableView = rt.view(this.#upload, this.#tablesAt, QUANT_BINS * this.#slots.length);
    this.#slots.forEach((s, i) => {
      const m = s.plan.selected;
      residualUpdate(
        rt,
        this.#view(this.#e, s),
        s.plan,
        rt.view(rb, s.indicesAt, m),
        rt.view(this.#upload, s.codesAt, Math.ceil(m / CODES_PER_WORD)),
        tableView,
        QUANT_BINS * i,
      );
    });
    rt.submit();
    return tensors;
  }

  loadError(error: Float32Array): void {
    if (error.length !== this.#length) {
      throw new RangeError(
        `compressor: error has ${error.length} elements, layout ${this.#length}`,
      );
    }
    this.#rt.write(this.#e, error);
  }

  readError(): Promise<Float32Array> {
    return this.#rt.read(this.#e);
  }

  dispose(): void {
    for (const t of [this.#e, this.#start, this.#readBack, this.#upload]) this.#rt.dispose(t);
  }

  #view(t: GpuTensor, s: Slot): GpuTensor {
    return this.#rt.view(t, s.entry.offset, s.numel);
  }

  #checkLength(t: GpuTensor, what: string): void {
    if (t.length !== this.#length) {
      throw new RangeError(`compressor: ${what} has ${t.length} elements, layout ${this.#length}`);
    }
  }
}
