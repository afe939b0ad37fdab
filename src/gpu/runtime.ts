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

/** A typed range of a GPU buffer: `length` elements starting `offset` bytes in. */
export interface GpuTensor {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly length: number;
  readonly dtype: DType;
  readonly label: string;
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

  private readonly source: ShaderSource;
  private readonly release: () => void;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
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

  constructor(gpu: AcquiredGpu, source: ShaderSource) {
    this.device = gpu.device;
    this.adapter = gpu.adapter;
    this.source = source;
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

  /** Pool buckets by power of two so that varying sizes still reuse buffers. */
  private static bucket(bytes: number): number {
    return Math.max(BINDING_ALIGN, 2 ** Math.ceil(Math.log2(Math.max(bytes, 4))));
  }

  /** A new tensor, zero-filled, from the pool. Give it back with `dispose`. */
  tensor(length: number, dtype: DType = "f32", label = "tensor"): GpuTensor {
    if (!Number.isInteger(length) || length <= 0) {
      throw new Error(`tensor ${label}: length must be a positive integer, got ${length}`);
    }
    const size = GpuRuntime.bucket(length * 4);
    const usage = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
    const key = `${usage}:${size}`;
    const buffer = this.free.get(key)?.pop() ?? this.createBuffer(size, usage, label);
    const t = { buffer, offset: 0, length, dtype, label };
    this.zero(t);
    return t;
  }

  /** A sub-range of a tensor: `length` elements from element `start` (start·4 must be 256-aligned). */
  view(t: GpuTensor, start: number, length: number, label = t.label): GpuTensor {
    const offset = t.offset + start * 4;
    if (offset % BINDING_ALIGN !== 0) {
      throw new Error(`view ${label}: byte offset ${offset} is not a multiple of ${BINDING_ALIGN}`);
    }
    if (start < 0 || start + length > t.length) {
      throw new Error(`view ${label}: [${start}, ${start + length}) outside ${t.length} elements`);
    }
    return { buffer: t.buffer, offset, length, dtype: t.dtype, label };
  }

  /** Returns a tensor's buffer to the pool (views must not be disposed). */
  dispose(t: GpuTensor): void {
    const key = `${t.buffer.usage}:${this.sizes.get(t.buffer)}`;
    const list = this.free.get(key) ?? [];
    list.push(t.buffer);
    this.free.set(key, list);
  }

  /** Uploads data. Pending commands are submitted first so that they see the old contents. */
  write(t: GpuTensor, data: Float32Array | Uint32Array | Int32Array): void {
    if (data.length !== t.length) {
      throw new Error(`write ${t.label}: ${data.length} elements for a tensor of ${t.length}`);
    }
    if (this.encoder) this.submit();
    this.device.queue.writeBuffer(t.buffer, t.offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Fills a tensor with zeros. */
  zero(t: GpuTensor): void {
    this.endPass();
    this.enc().clearBuffer(t.buffer, t.offset, t.length * 4);
  }

  /** Copies `src` into `dst` (same length). */
  copy(dst: GpuTensor, src: GpuTensor): void {
    if (dst.length !== src.length) throw new Error(`copy ${src.label} → ${dst.label}: lengths differ`);
    this.endPass();
    this.enc().copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, src.length * 4);
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
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
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
    const bytes = t.length * 4;
    const size = GpuRuntime.bucket(bytes);
    const usage = USAGE.MAP_READ | USAGE.COPY_DST;
    const key = `${usage}:${size}`;
    const staging = this.free.get(key)?.pop() ?? this.createBuffer(size, usage, "staging");
    this.endPass();
    this.enc().copyBufferToBuffer(t.buffer, t.offset, staging, 0, bytes);
    this.submit();
    await staging.mapAsync(MAP_READ_MODE, 0, bytes);
    const out = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    const list = this.free.get(key) ?? [];
    list.push(staging);
    this.free.set(key, list);
    if (this.error) {
      const e = this.error;
      this.error = null;
      throw e;
    }
    return out;
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
