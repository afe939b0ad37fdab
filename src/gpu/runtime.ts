/**
 * The GPU runtime: buffers (pooled), WGSL sources, a pipeline cache, dispatch and read-back.
 * Kernel launchers (src/kernels) are written against this; model code never sees GPU types.
 *
 * Constants a launcher and its WGSL share (workgroup sizes, tile edges) are defined once, in the
 * launcher, and reach the shader through the dispatch, so the two cannot drift:
 * - `Dispatch.constants` become pipeline-overridable constants. The WGSL declares them with no
 *   default (`override WG: u32;`), so a dispatch that forgets one its entry point uses fails
 *   pipeline creation (overrides an entry point does not use may be passed or left out).
 * - `Dispatch.header` is for the few values WGSL needs as const-expressions, which an override
 *   cannot be (the length of a function-scope array): each becomes `const NAME: u32 = V;` at the
 *   top of the source. The WGSL must not declare it, so a missing one fails shader compilation.
 * Both are part of the pipeline cache key. To move a kernel family onto this: replace each WGSL
 * literal it shares with its launcher by an `override` without default, keep the value in one TS
 * constant, and use that constant for both the dispatch's `constants` and its grid (`grid1d(n, WG)`).
 *
 * Tensors larger than one binding (`splitBytes`: the device's maxStorageBufferBindingSize and
 * maxBufferSize, or a smaller forced limit) are split into several buffers, "chunks", when the
 * caller says where they may be split (`SplitPoint`s: the tensors of a flat named layout). Each
 * chunk holds whole named tensors, so a view of one named tensor lies in one buffer and every
 * per-tensor kernel binds it as before; the memory operations (write, read, zero, copy, views)
 * span chunks, and whole-buffer kernels loop over `pieces` (elementwise) or `chunksOf`
 * (reductions, which carry their state from chunk to chunk so the result does not depend on the
 * split). A tensor that fits one binding is one buffer exactly as without splitting.
 */
import type { AcquiredGpu, GpuAdapterDescription } from "./device.ts";

/** WebGPU usage flags as numbers: the GPUBufferUsage global is missing in some runtimes. */
const USAGE = { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128 } as const;
const MAP_READ_MODE = 1;
/** Storage bindings must start on this many bytes (the WebGPU default limit). */
export const BINDING_ALIGN = 256;
const UNIFORM_RING_BYTES = 1 << 20;

/** Element type of a tensor. */
export type DType = "f32" | "u32";

/**
 * A typed range of a GPU buffer: `length` elements starting `offset` bytes in; or, when `chunks`
 * is set, a tensor split across buffers (see the module comment), which no kernel binds whole.
 */
export interface GpuTensor {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly length: number;
  readonly dtype: DType;
  readonly label: string;
  /** Set on a tensor that spans several buffers: its single-buffer parts, in order. */
  readonly chunks?: readonly GpuTensor[];
}

/**
 * Where a flat tensor may be split across buffers: the first element of each tensor it holds
 * (ascending, multiples of 64, the first at 0) and its name, for a refusal. A `ParamLayout`'s
 * entries are such a list.
 */
export interface SplitPoint {
  readonly name: string;
  readonly offset: number;
}

/** Options of a runtime. */
export interface RuntimeOptions {
  /**
   * Bytes one buffer of a split tensor may hold, below the device's own limits: tests force a
   * small one so that a tiny model spans several buffers (also WEBLOCO_MAX_BINDING, see
   * `acquireGpu`). Tensors without split points are still bounded by the device's limits only.
   */
  maxBindingBytes?: number;
  /**
   * True opts into the subgroup variant of the launchers that have one, where the device has
   * `subgroups` (default: WEBLOCO_SUBGROUPS, see `acquireGpu`, else off). Opt-in because their
   * sums run in another order than the portable kernels', so training results change in the last
   * bits. See `GpuRuntime.subgroups`.
   */
  subgroups?: boolean;
}

/** A contiguous range of tensors of equal length that each lie in one buffer there. */
export interface Piece {
  /** First element of the range in the tensors given to `pieces`. */
  start: number;
  length: number;
  /** The tensors' views of the range, in the order given. */
  tensors: GpuTensor[];
}

/**
 * A tensor split across buffers. `buffer` and `offset` throw: code that binds a tensor whole
 * must bind a view inside one chunk (a named tensor) or loop over the chunks.
 */
class ChunkedTensor implements GpuTensor {
  readonly length: number;

  constructor(readonly chunks: readonly GpuTensor[], readonly dtype: DType, readonly label: string) {
    this.length = chunks.reduce((a, c) => a + c.length, 0);
  }

  get buffer(): GPUBuffer {
    throw new Error(this.#whole());
  }

  get offset(): number {
    throw new Error(this.#whole());
  }

  #whole(): string {
    return `tensor ${this.label} spans ${this.chunks.length} buffers: bind a view inside one (a named tensor)`;
  }
}

/**
 * Chunk lengths for a tensor of `length` elements split at `points`, each chunk at most
 * `maxElements`: greedy, as many whole tensors per chunk as fit, so the split depends only on
 * the layout and the limit. Throws naming the first tensor that alone exceeds the limit.
 */
export function splitPlan(
  length: number,
  points: readonly SplitPoint[],
  maxElements: number,
  label: string,
): number[] {
  if (points.length === 0 || points[0].offset !== 0) {
    throw new Error(`tensor ${label}: split points must start at element 0`);
  }
  const chunks: number[] = [];
  let chunkStart = 0;
  points.forEach((p, i) => {
    const end = i + 1 < points.length ? points[i + 1].offset : length;
    if (p.offset % 64 !== 0 || end < p.offset || end > length) {
      throw new Error(`tensor ${label}: split point ${p.name} at ${p.offset} is not ascending on 64 elements`);
    }
    if (end - p.offset > maxElements) {
      throw new Error(
        `tensor ${label}: ${p.name} needs ${4 * (end - p.offset)} bytes in one binding; ` +
          `buffers here hold at most ${4 * maxElements} (maxStorageBufferBindingSize / ` +
          `maxBufferSize, or WEBLOCO_MAX_BINDING)`,
      );
    }
    if (end - chunkStart > maxElements) {
      chunks.push(p.offset - chunkStart);
      chunkStart = p.offset;
    }
  });
  chunks.push(length - chunkStart);
  return chunks;
}

/** A uniform field: a number written as u32, i32 or f32. */
export type Uniform = { u32: number } | { i32: number } | { f32: number };

/** One compute dispatch. Bindings: 0 = the uniform struct (if any), 1.. = `tensors` in order. */
export interface Dispatch {
  /** Shader file name in shaders/ without extension. */
  shader: string;
  entry: string;
  /** Pipeline-overridable constants (see the module comment); part of the cache key. */
  constants?: Record<string, number>;
  /** u32 constants prepended to the WGSL as `const` declarations; part of the cache key. */
  header?: Record<string, number>;
  uniforms?: Uniform[];
  tensors: GpuTensor[];
  workgroups: [number, number?, number?];
  /** Label for profiles (defaults to shader.entry). */
  label?: string;
}

/** Loads a shader's WGSL source by name. */
export type ShaderSource = (name: string) => string;

/** Counts of what the runtime has created, for tests that no step allocates. */
export interface RuntimeStats {
  buffersCreated: number;
  pipelinesCreated: number;
  dispatches: number;
  submits: number;
}

/**
 * Compiled pipelines per device and shader source: runtimes on one device (a test's split and
 * single-buffer runtimes) compile each pipeline once, which software adapters pay seconds for.
 */
const PIPELINES = new WeakMap<GPUDevice, WeakMap<ShaderSource, Map<string, GPUComputePipeline>>>();

/** A buffer pool + pipeline cache + command recorder around one GPUDevice. */
export class GpuRuntime {
  readonly device: GPUDevice;
  readonly adapter: GpuAdapterDescription;
  readonly stats: RuntimeStats = { buffersCreated: 0, pipelinesCreated: 0, dispatches: 0, submits: 0 };
  /**
   * When set, each dispatch runs in its own timestamped pass and `sync()` adds its GPU time (ms)
   * here under its label. Needs the `timestamp-query` feature (see `canProfile`).
   */
  profile: Map<string, number> | null = null;

  /** Whether the device has the `subgroups` feature (acquireGpu requests it where offered). */
  readonly hasSubgroups: boolean;
  /**
   * Whether launchers with a subgroup variant (src/kernels/rmsnorm.ts) dispatch it: starts as
   * `RuntimeOptions.subgroups` where the device has them; tests switch it to compare both paths
   * on one adapter. Set it between dispatches only; true without the feature throws.
   */
  get subgroups(): boolean {
    return this.subgroupsOn;
  }
  set subgroups(on: boolean) {
    if (on && !this.hasSubgroups) throw new Error("this device has no subgroups feature");
    this.subgroupsOn = on;
  }
  private subgroupsOn: boolean;

  /** Bytes one buffer of a split tensor holds at most (see `RuntimeOptions`). */
  readonly splitBytes: number;
  /**
   * The device limits that every tensor and dispatch checks, read once (they never change): the
   * per-call path makes no native call for them.
   */
  private readonly bindingBytes: number;
  private readonly maxBufferSize: number;
  private readonly maxWorkgroups: number;
  private readonly source: ShaderSource;
  private readonly release: () => void;
  private readonly pipelines: Map<string, GPUComputePipeline>;
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly ring: GPUBuffer;
  private ringUsed = 0;
  private error: Error | null = null;
  private querySet: GPUQuerySet | null = null;
  private queryResolve: GPUBuffer | null = null;
  private profiled: string[] = [];
  private pendingTimes: { labels: string[]; staging: GpuTensor }[] = [];

  constructor(gpu: AcquiredGpu, source: ShaderSource, options: RuntimeOptions = {}) {
    this.device = gpu.device;
    this.adapter = gpu.adapter;
    this.source = source;
    const forced = options.maxBindingBytes ?? gpu.maxBindingBytes;
    if (forced !== undefined && !(Number.isInteger(forced) && forced >= BINDING_ALIGN)) {
      throw new RangeError(`maxBindingBytes must be an integer ≥ ${BINDING_ALIGN}, got ${forced}`);
    }
    const l = this.device.limits;
    this.maxBufferSize = l.maxBufferSize;
    this.bindingBytes = Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize);
    this.maxWorkgroups = l.maxComputeWorkgroupsPerDimension;
    this.splitBytes = Math.min(this.bindingBytes, forced ?? Infinity);
    this.hasSubgroups = this.device.features.has("subgroups");
    this.subgroupsOn = this.hasSubgroups && (options.subgroups ?? gpu.preferSubgroups ?? false);
    const bySource = PIPELINES.get(this.device) ?? new WeakMap();
    PIPELINES.set(this.device, bySource);
    this.pipelines = bySource.get(source) ?? new Map();
    bySource.set(source, this.pipelines);
    this.release = () => gpu.destroy();
    this.device.addEventListener("uncapturederror", (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.error ??= new Error(`WebGPU error: ${e.message}`);
    });
    this.ring = this.createBuffer(UNIFORM_RING_BYTES, USAGE.UNIFORM | USAGE.COPY_DST, "uniforms");
  }

  private createBuffer(size: number, usage: number, label: string): GPUBuffer {
    this.stats.buffersCreated++;
    const b = this.device.createBuffer({ size, usage, label });
    this.sizes.set(b, size);
    return b;
  }

  /**
   * Pool buckets by power of two so that varying sizes still reuse buffers; past the device's
   * maxBufferSize (or for a layout's tensors and split chunks, large and long-lived) the size
   * itself.
   */
  private poolSize(bytes: number, exact = false): number {
    const bucket = Math.max(BINDING_ALIGN, 2 ** Math.ceil(Math.log2(Math.max(bytes, 4))));
    return exact || bucket > this.maxBufferSize
      ? Math.ceil(bytes / BINDING_ALIGN) * BINDING_ALIGN
      : bucket;
  }

  /** A buffer of at least `size` bytes from the pool (or new). */
  private pooled(size: number, usage: number, label: string): GPUBuffer {
    return this.free.get(`${usage}:${size}`)?.pop() ?? this.createBuffer(size, usage, label);
  }

  /** Puts a buffer back into the pool. */
  private recycle(buffer: GPUBuffer): void {
    const key = `${buffer.usage}:${this.sizes.get(buffer)}`;
    const list = this.free.get(key) ?? [];
    list.push(buffer);
    this.free.set(key, list);
  }

  /**
   * A new tensor, zero-filled, from the pool. Give it back with `dispose`. With `split`, a tensor
   * larger than `splitBytes` becomes several buffers cut at those points (see the module comment).
   */
  tensor(length: number, dtype: DType = "f32", label = "tensor", split?: readonly SplitPoint[]): GpuTensor {
    if (!Number.isInteger(length) || length <= 0) {
      throw new Error(`tensor ${label}: length must be a positive integer, got ${length}`);
    }
    const usage = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
    if (split && length * 4 > this.splitBytes) {
      const lengths = splitPlan(length, split, Math.floor(this.splitBytes / 4), label);
      const chunks = lengths.map((n, i): GpuTensor => ({
        buffer: this.pooled(this.poolSize(n * 4, true), usage, `${label}.${i}`),
        offset: 0,
        length: n,
        dtype,
        label,
      }));
      const t = new ChunkedTensor(chunks, dtype, label);
      this.zero(t);
      return t;
    }
    if (length * 4 > this.bindingBytes) {
      throw new Error(
        `tensor ${label}: ${length * 4} bytes in one buffer; this device binds at most ` +
          `${this.bindingBytes} (maxStorageBufferBindingSize / maxBufferSize)`,
      );
    }
    // A layout's tensor (parameters, gradients, moments: allocated once) takes its exact size,
    // as memoryNeeds counts it; scratch of varying size is bucketed for reuse.
    const buffer = this.pooled(this.poolSize(length * 4, split !== undefined), usage, label);
    const t = { buffer, offset: 0, length, dtype, label };
    this.zero(t);
    return t;
  }

  /**
   * A tensor from the pool whose contents are whatever its buffer last held: for a kernel's
   * scratch that is written whole before it is read (grad clip's running sums), where
   * `tensor`'s clear would be a wasted pass over memory every step. Give it back with `dispose`.
   */
  scratch(length: number, dtype: DType = "f32", label = "scratch"): GpuTensor {
    if (!Number.isInteger(length) || length <= 0 || length * 4 > this.bindingBytes) {
      throw new Error(`scratch ${label}: ${length} elements do not fit one buffer`);
    }
    const usage = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
    const buffer = this.pooled(this.poolSize(length * 4), usage, label);
    return { buffer, offset: 0, length, dtype, label };
  }

  /**
   * A sub-range of a tensor: `length` elements from element `start` (start·4 must be 256-aligned
   * in its buffer). Of a split tensor: a single-buffer view when the range lies in one chunk.
   */
  view(t: GpuTensor, start: number, length: number, label = t.label): GpuTensor {
    if (start < 0 || start + length > t.length) {
      throw new Error(`view ${label}: [${start}, ${start + length}) outside ${t.length} elements`);
    }
    if (t.chunks) {
      const parts: GpuTensor[] = [];
      let base = 0;
      for (const c of t.chunks) {
        const lo = Math.max(start, base), hi = Math.min(start + length, base + c.length);
        // An empty range is an empty view of the chunk it starts in.
        if (lo < hi || (length === 0 && parts.length === 0 && start <= base + c.length)) {
          parts.push(this.view(c, lo - base, hi - lo, label));
        }
        base += c.length;
      }
      return parts.length === 1 ? parts[0] : new ChunkedTensor(parts, t.dtype, label);
    }
    const offset = t.offset + start * 4;
    if (offset % BINDING_ALIGN !== 0) {
      throw new Error(`view ${label}: byte offset ${offset} is not a multiple of ${BINDING_ALIGN}`);
    }
    return { buffer: t.buffer, offset, length, dtype: t.dtype, label };
  }

  /** The single-buffer parts of a tensor, in order: `[t]` unless it is split. */
  chunksOf(t: GpuTensor): readonly GpuTensor[] {
    return t.chunks ?? [t];
  }

  /**
   * The first `n` elements of equal-length tensors cut where any of them changes buffer, so that
   * an elementwise kernel can run on each piece: one piece of the tensors themselves when none
   * is split.
   */
  pieces(tensors: GpuTensor[], n: number): Piece[] {
    for (const t of tensors) {
      if (t.length < n) throw new Error(`pieces: ${t.label} has ${t.length} elements, n = ${n}`);
    }
    if (tensors.every((t) => !t.chunks)) return [{ start: 0, length: n, tensors }];
    const cuts = new Set([0, n]);
    for (const t of tensors) {
      let base = 0;
      for (const c of this.chunksOf(t)) {
        base += c.length;
        if (base < n) cuts.add(base);
      }
    }
    const at = [...cuts].sort((a, b) => a - b);
    return at.slice(1).map((end, i) => ({
      start: at[i],
      length: end - at[i],
      tensors: tensors.map((t) => this.view(t, at[i], end - at[i])),
    }));
  }

  /** Returns a tensor's buffers to the pool (views must not be disposed). */
  dispose(t: GpuTensor): void {
    for (const c of this.chunksOf(t)) this.recycle(c.buffer);
  }

  /** Uploads data. Pending commands are submitted first so that they see the old contents. */
  write(t: GpuTensor, data: Float32Array | Uint32Array | Int32Array): void {
    if (data.length !== t.length) {
      throw new Error(`write ${t.label}: ${data.length} elements for a tensor of ${t.length}`);
    }
    if (this.encoder) this.submit();
    let at = data.byteOffset;
    for (const c of this.chunksOf(t)) {
      this.device.queue.writeBuffer(c.buffer, c.offset, data.buffer, at, c.length * 4);
      at += c.length * 4;
    }
  }

  /** Fills a tensor with zeros. */
  zero(t: GpuTensor): void {
    this.endPass();
    for (const c of this.chunksOf(t)) this.enc().clearBuffer(c.buffer, c.offset, c.length * 4);
  }

  /** Copies `src` into `dst` (same length). */
  copy(dst: GpuTensor, src: GpuTensor): void {
    if (dst.length !== src.length) throw new Error(`copy ${src.label} → ${dst.label}: lengths differ`);
    this.endPass();
    for (const { tensors: [d, s], length } of this.pieces([dst, src], src.length)) {
      this.enc().copyBufferToBuffer(s.buffer, s.offset, d.buffer, d.offset, length * 4);
    }
  }

  private enc(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** The cached pipeline for a shader entry point, its overrides and its const header. */
  pipeline(
    shader: string,
    entry: string,
    constants: Record<string, number> = {},
    header: Record<string, number> = {},
  ): GPUComputePipeline {
    const list = (r: Record<string, number>) => Object.keys(r).sort().map((k) => `${k}=${r[k]}`).join(",");
    const key = `${shader}:${entry}:${list(constants)}:${list(header)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const code = constHeader(shader, header) + this.source(shader);
      const module = this.device.createShaderModule({ code, label: shader });
      p = this.device.createComputePipeline({
        layout: "auto",
        label: key,
        compute: { module, entryPoint: entry, constants },
      });
      this.stats.pipelinesCreated++;
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Records one dispatch. */
  dispatch(d: Dispatch): void {
    const [x, y = 1, z = 1] = d.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.maxWorkgroups;
    if (x > max || y > max || z > max) {
      throw new Error(`${d.shader}.${d.entry}: ${x}×${y}×${z} workgroups exceeds ${max} per dimension`);
    }
    const pipeline = this.pipeline(d.shader, d.entry, d.constants, d.header);
    const entries: GPUBindGroupEntry[] = [];
    if (d.uniforms && d.uniforms.length > 0) {
      const bytes = Math.ceil((d.uniforms.length * 4) / 16) * 16;
      if (this.ringUsed + bytes > UNIFORM_RING_BYTES) this.submit();
      const data = new ArrayBuffer(bytes);
      const view = new DataView(data);
      d.uniforms.forEach((u, i) => {
        if ("u32" in u) view.setUint32(i * 4, u.u32, true);
        else if ("i32" in u) view.setInt32(i * 4, u.i32, true);
        else view.setFloat32(i * 4, u.f32, true);
      });
      this.device.queue.writeBuffer(this.ring, this.ringUsed, data);
      entries.push({ binding: 0, resource: { buffer: this.ring, offset: this.ringUsed, size: bytes } });
      this.ringUsed += Math.ceil(bytes / BINDING_ALIGN) * BINDING_ALIGN;
    }
    d.tensors.forEach((t, i) => {
      if (t.chunks) {
        throw new Error(`${d.shader}.${d.entry}: tensor ${t.label} spans ${t.chunks.length} buffers; bind a view inside one`);
      }
      entries.push({ binding: i + 1, resource: { buffer: t.buffer, offset: t.offset, size: t.length * 4 } });
    });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    if (this.profile && this.canProfile) this.pass = this.beginProfiledPass(d.label ?? `${d.shader}.${d.entry}`);
    this.pass ??= this.enc().beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(x, y, z);
    this.stats.dispatches++;
    if (this.profile && this.canProfile) this.endPass();
  }

  /** Whether the device can time kernels (`profile`). */
  get canProfile(): boolean {
    return this.device.features.has("timestamp-query");
  }

  private static readonly PROFILE_SLOTS = 2048;

  private beginProfiledPass(label: string): GPUComputePassEncoder {
    if (!this.querySet) {
      this.querySet = this.device.createQuerySet({ type: "timestamp", count: 2 * GpuRuntime.PROFILE_SLOTS });
      this.queryResolve = this.createBuffer(16 * GpuRuntime.PROFILE_SLOTS, 0x200 | USAGE.COPY_SRC, "timestamps");
    }
    if (this.profiled.length === GpuRuntime.PROFILE_SLOTS) this.resolveProfile();
    const i = this.profiled.length;
    this.profiled.push(label);
    this.endPass();
    return this.enc().beginComputePass({
      timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
    });
  }

  /** Copies the recorded timestamps out; `sync()` reads them. */
  private resolveProfile(): void {
    if (this.profiled.length === 0 || !this.querySet || !this.queryResolve) return;
    const n = this.profiled.length;
    this.endPass();
    this.enc().resolveQuerySet(this.querySet, 0, 2 * n, this.queryResolve, 0);
    const staging = this.tensor(4 * n, "u32", "timestamps");
    this.enc().copyBufferToBuffer(this.queryResolve, 0, staging.buffer, 0, 16 * n);
    this.pendingTimes.push({ labels: this.profiled, staging });
    this.profiled = [];
  }

  private async collectProfile(): Promise<void> {
    const pending = this.pendingTimes;
    this.pendingTimes = [];
    for (const { labels, staging } of pending) {
      const words = await this.readU32(staging);
      this.dispose(staging);
      labels.forEach((label, i) => {
        // Timestamps are u64 nanoseconds; spans of one pass fit easily in 2^53.
        const t = (j: number) => words[2 * j] + words[2 * j + 1] * 2 ** 32;
        const ms = Math.max(0, t(2 * i + 1) - t(2 * i)) / 1e6;
        this.profile?.set(label, (this.profile.get(label) ?? 0) + ms);
      });
    }
  }

  /** Submits the recorded commands. */
  submit(): void {
    this.endPass();
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.stats.submits++;
    }
    this.ringUsed = 0;
    if (this.error) {
      const e = this.error;
      this.error = null;
      throw e;
    }
  }

  /** Submits and waits until the GPU is idle. */
  async sync(): Promise<void> {
    this.resolveProfile();
    this.submit();
    await this.device.queue.onSubmittedWorkDone();
    await this.collectProfile();
    if (this.error) {
      const e = this.error;
      this.error = null;
      throw e;
    }
  }

  /** Reads a tensor back (submits pending work). */
  async read(t: GpuTensor): Promise<Float32Array> {
    return new Float32Array(await this.readBytes(t));
  }

  /** Reads a u32 tensor back. */
  async readU32(t: GpuTensor): Promise<Uint32Array> {
    return new Uint32Array(await this.readBytes(t));
  }

  private async readBytes(t: GpuTensor): Promise<ArrayBuffer> {
    const usage = USAGE.MAP_READ | USAGE.COPY_DST;
    this.endPass();
    const staged = this.chunksOf(t).map((c) => {
      const bytes = c.length * 4;
      const staging = this.pooled(this.poolSize(bytes), usage, "staging");
      this.enc().copyBufferToBuffer(c.buffer, c.offset, staging, 0, bytes);
      return { staging, bytes };
    });
    this.submit();
    await Promise.all(staged.map(({ staging, bytes }) => staging.mapAsync(MAP_READ_MODE, 0, bytes)));
    const out = staged.length === 1 ? null : new Uint8Array(t.length * 4);
    let result: ArrayBuffer | null = null, at = 0;
    for (const { staging, bytes } of staged) {
      const range = staging.getMappedRange(0, bytes);
      if (out) out.set(new Uint8Array(range), at);
      else result = range.slice(0);
      at += bytes;
      staging.unmap();
      this.recycle(staging);
    }
    if (this.error) {
      const e = this.error;
      this.error = null;
      throw e;
    }
    return out ? out.buffer : result as ArrayBuffer;
  }

  /** Releases the device. */
  destroy(): void {
    this.encoder = null;
    this.pass = null;
    this.release();
  }
}

/** `const NAME: u32 = Vu;` lines for a shader's header constants. */
function constHeader(shader: string, header: Record<string, number>): string {
  return Object.keys(header).sort().map((name) => {
    const v = header[name];
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** 32) {
      throw new Error(`${shader}: header constant ${name} = ${v} is not a u32`);
    }
    return `const ${name}: u32 = ${v}u;\n`;
  }).join("");
}

/**
 * Workgroup counts covering `n` invocations of `size` threads as a 2-D grid (x ≤ 65535);
 * shaders recover the flat index as `gid.x + gid.y * nwg.x * size`.
 */
export function grid1d(n: number, size: number): [number, number] {
  const groups = Math.ceil(n / size);
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}
