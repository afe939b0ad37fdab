/**
 * The side-by-side matmul benchmark page (web/ortbench.html; `deno task bench:ortweb` runs it
 * through test/browser/ortweb_bench.spec.ts): for one n, out(n,n) = A(n,n)·B(n,n) from the same
 * seeded inputs by
 * - ours: `matmul` (f32 operands) and `matmulF16` (packed f16 operands, f32 sums and output);
 * - onnxruntime-web's WebGPU execution provider on the same adapter (its own GPUDevice: 1.30
 *   does not take ours), a one-node MatMul graph built here with onnx-proto, inputs and output
 *   as GPU buffers on its device (no upload or download timed),
 *   float32 and float16 (the latter needs `shader-f16`; a refusal is reported, not hidden:
 *   CPU fallback is disabled, so a node cannot silently run on the CPU);
 * - onnxruntime-web's wasm execution provider, float32 and float16, for reference.
 * Each is run once untimed (pipeline compilation; its output is the one checked), then timed
 * until `MIN_MS` has passed (at least once, at most `MAX_REPS`), each run awaited to completion
 * on the queue. Results are checked against our f32 matmul.
 */
import * as ort from "onnxruntime-web/webgpu";
import onnxProto from "onnx-proto";
import { acquireGpu, adapterLabel } from "../src/gpu/device.ts";
import { GpuRuntime } from "../src/gpu/runtime.ts";
import { loadShaders } from "../src/kernels/shaders.ts";
import { matmul } from "../src/kernels/matmul.ts";
import { hasShaderF16, matmulF16 } from "../src/kernels/matmul_f16.ts";
import { packF16, unpackF16 } from "../src/reference/f16.ts";
import { Rng } from "../src/util/rng.ts";

const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType;

/** Time each variant for at least this long (after the untimed first run)… */
const MIN_MS = 1500;
/** …but at most this many runs. */
const MAX_REPS = 10;

/** One variant at one n. */
export interface BenchRow {
  impl: "ours" | "ort-webgpu" | "ort-wasm";
  dtype: "f32" | "f16";
  /** Milliseconds per run (mean of the timed runs); absent when unavailable. */
  ms?: number;
  gflops?: number;
  reps?: number;
  /** Why the variant did not run ("not available on this adapter: …"). */
  unavailable?: string;
  /** Against our f32 matmul: worst |got − want| / (atol + rtol·|want|) and whether ≤ 1. */
  check?: { ok: boolean; worstRatio: number; worstErr: number; atol: number; rtol: number };
}

/** Everything the page exposes to Playwright. */
export interface OrtBench {
  adapter: string;
  /** Whether our device has `shader-f16` (src/gpu/device.ts does not request it yet). */
  shaderF16: boolean;
  /** Whether the adapter offers `shader-f16` at all. */
  adapterShaderF16: boolean;
  ortWasmThreads: number;
  run(n: number): Promise<BenchRow[]>;
}

declare global {
  var ortBench: OrtBench | undefined;
  var ortBenchError: string | undefined;
}

/** A one-node graph Y = MatMul(A, B), A and B (n,n) inputs of `elemType`. */
function matmulGraph(n: number, elemType: number): Uint8Array {
  const info = (name: string) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType, shape: { dim: [{ dimValue: n }, { dimValue: n }] } } },
    });
  const graph = onnx.GraphProto.create({
    name: "matmul",
    node: [
      onnx.NodeProto.create({ opType: "MatMul", input: ["A", "B"], output: ["Y"], name: "mm" }),
    ],
    input: [info("A"), info("B")],
    output: [info("Y")],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 14 }],
    producerName: "webloco ortbench",
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Mean ms per run of `once` (awaited), after one untimed run. */
async function time(once: () => Promise<void>): Promise<{ ms: number; reps: number }> {
  await once();
  let reps = 0;
  const t0 = performance.now();
  while (reps < MAX_REPS && (reps === 0 || performance.now() - t0 < MIN_MS)) {
    await once();
    reps++;
  }
  return { ms: (performance.now() - t0) / reps, reps };
}

/** Elementwise |got − want| ≤ atol + rtol·|want|, summarised by the worst element. */
function check(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number) {
  let worstRatio = 0, worstErr = 0, ok = got.length === want.length;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const r = err / (atol + rtol * Math.abs(want[i]));
    if (!(r <= 1)) ok = false;
    if (!(r <= worstRatio)) [worstRatio, worstErr] = [Number.isFinite(r) ? r : Infinity, err];
  }
  return { ok, worstRatio, worstErr, atol, rtol };
}

/**
 * Tolerances against our f32 matmul (inputs N(0,1), K = n). f32: two f32 sums of the same
 * products, each within 4·K·u + 4·√K·u·|y| of the exact one (test/kernels/matmul_cases.ts), so
 * twice that apart. f16: the operands rounded to f16 (2^-11 relative each) move each product by
 * up to 2^-10 relative, a sum of K of them by ~2^-10·√K in random directions (5σ allowed),
 * and an f16 output adds 2^-11·|y|.
 */
function tolerance(n: number, dtype: "f32" | "f16"): [number, number] {
  const u = 2 ** -24;
  if (dtype === "f32") return [8 * n * u, 8 * Math.sqrt(n) * u];
  return [5 * Math.sqrt(n) * 2 ** -10, 2 ** -10];
}

async function main(): Promise<void> {
  const gpu = await acquireGpu("browser");
  const rt = new GpuRuntime(gpu, await loadShaders());
  ort.env.logLevel = "error";
  // One thread: this page is not cross-origin isolated (with COOP/COEP set by the spec, the
  // threaded wasm provider hung in this Chromium, 2026-12-01).
  const threads = 1;
  ort.env.wasm.numThreads = threads;
  const noFallback = { extra: { session: { disable_cpu_ep_fallback: "1" } } };
  const out = document.getElementById("out")!;

  async function ortRun(
    n: number,
    dtype: "f32" | "f16",
    ep: "webgpu" | "wasm",
    a: Float32Array,
    b: Float32Array,
  ): Promise<{ y: Float32Array; ms: number; reps: number }> {
    const elem = dtype === "f32" ? DT.FLOAT : DT.FLOAT16;
    const session = await ort.InferenceSession.create(matmulGraph(n, elem), {
      executionProviders: [ep],
      ...(ep === "webgpu" ? { preferredOutputLocation: "gpu-buffer", ...noFallback } : {}),
    });
    try {
      const type = dtype === "f32" ? "float32" : "float16";
      const host = (x: Float32Array) =>
        dtype === "f32" ? x : new Uint16Array(packF16(x).buffer, 0, n * n);
      let feeds: Record<string, ort.Tensor>;
      const buffers: GPUBuffer[] = [];
      // onnxruntime-web 1.30 runs on a device of its own (it ignores env.webgpu.device), on the
      // same adapter as ours; its inputs must live there.
      const device = ep === "webgpu" ? await ort.env.webgpu.device : rt.device;
      if (ep === "webgpu") {
        const upload = (x: Float32Array) => {
          const data = host(x);
          const buf = device.createBuffer({
            size: Math.ceil(data.byteLength / 16) * 16,
            usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
          });
          device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
          buffers.push(buf);
          return ort.Tensor.fromGpuBuffer(buf, { dataType: type, dims: [n, n] });
        };
        feeds = { A: upload(a), B: upload(b) };
      } else {
        const t = (x: Float32Array) =>
          dtype === "f32"
            ? new ort.Tensor("float32", x, [n, n])
            : new ort.Tensor("float16", host(x) as Uint16Array, [n, n]);
        feeds = { A: t(a), B: t(b) };
      }
      let y: Float32Array | null = null;
      const once = async () => {
        const r = await session.run(feeds);
        if (ep === "webgpu") await device.queue.onSubmittedWorkDone();
        if (y === null) {
          const data = await r.Y.getData();
          y = data instanceof Float32Array ? Float32Array.from(data) : unpackF16(
            new Uint32Array((data as Uint16Array).slice().buffer),
            n * n,
          );
        }
        r.Y.dispose();
      };
      const { ms, reps } = await time(once);
      for (const buf of buffers) buf.destroy();
      return { y: y!, ms, reps };
    } finally {
      await session.release();
    }
  }

  async function run(n: number): Promise<BenchRow[]> {
    const rng = new Rng(n);
    const a = rng.normals(n * n), b = rng.normals(n * n);
    const flop = 2 * n ** 3;
    const rows: BenchRow[] = [];
    const show = () => {
      out.textContent = JSON.stringify(rows, null, 2);
      const r = rows.at(-1);
      if (r) {
        console.log(
          `ortbench n=${n} ${r.impl} ${r.dtype}: ${r.unavailable ?? `${r.gflops} GFLOP/s`}`,
        );
      }
    };
    const shape = { M: n, N: n, K: n };

    // Ours, f32 (the reference of every check) and packed f16.
    const ta = rt.tensor(n * n), tb = rt.tensor(n * n), ty = rt.tensor(n * n);
    rt.write(ta, a);
    rt.write(tb, b);
    const f32 = await time(async () => {
      matmul(rt, ty, ta, tb, shape);
      await rt.sync();
    });
    const want = await rt.read(ty);
    rows.push({ impl: "ours", dtype: "f32", ...f32, gflops: flop / f32.ms / 1e6 });
    show();
    rt.dispose(ta);
    rt.dispose(tb);
    const ta16 = rt.tensor(Math.ceil(n * n / 2), "u32"),
      tb16 = rt.tensor(Math.ceil(n * n / 2), "u32");
    rt.write(ta16, packF16(a));
    rt.write(tb16, packF16(b));
    const f16 = await time(async () => {
      matmulF16(rt, ty, ta16, tb16, shape);
      await rt.sync();
    });
    const got16 = await rt.read(ty);
    rows.push({
      impl: "ours",
      dtype: "f16",
      ...f16,
      gflops: flop / f16.ms / 1e6,
      check: check(got16, want, ...tolerance(n, "f16")),
    });
    show();
    for (const t of [ta16, tb16, ty]) rt.dispose(t);

    for (const ep of ["webgpu", "wasm"] as const) {
      for (const dtype of ["f32", "f16"] as const) {
        const impl = ep === "webgpu" ? "ort-webgpu" : "ort-wasm";
        console.log(`ortbench n=${n} ${impl} ${dtype}: starting`);
        try {
          const r = await ortRun(n, dtype, ep, a, b);
          rows.push({
            impl,
            dtype,
            ms: r.ms,
            reps: r.reps,
            gflops: flop / r.ms / 1e6,
            check: check(r.y, want, ...tolerance(n, dtype)),
          });
        } catch (e) {
          const why = String((e as Error).message ?? e).split("\n")[0].slice(0, 300);
          const where = ep === "webgpu" ? "on this adapter" : "in onnxruntime-web's wasm provider";
          rows.push({ impl, dtype, unavailable: `not available ${where}: ${why}` });
        }
        show();
      }
    }
    return rows;
  }

  globalThis.ortBench = {
    adapter: adapterLabel(rt.adapter),
    shaderF16: hasShaderF16(rt),
    adapterShaderF16: (await navigator.gpu.requestAdapter())?.features.has("shader-f16") ?? false,
    ortWasmThreads: threads,
    run,
  };
  out.textContent = `ready on ${globalThis.ortBench.adapter}`;
}

main().catch((e) => {
  globalThis.ortBenchError = String((e as Error).stack ?? e);
  document.getElementById("out")!.textContent = globalThis.ortBenchError;
});
