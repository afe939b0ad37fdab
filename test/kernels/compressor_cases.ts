/**
 * The GPU compressor against the CPU one (the reference): from the same θ_start, θ_end and
 * error-feedback buffer, the encoded payload and the new error-feedback buffer must be
 * byte-identical, window after window. In ALL_CASES: run by test/kernels_test.ts under Deno
 * (`--filter compressor` runs these alone; `WEBLOCO_GPU=wgpu` for Deno's wgpu, Dawn otherwise)
 * and by the kernel page in Chromium.
 */
import { cpuOps } from "../../src/backend/cpu_ops.ts";
import { gpuOps } from "../../src/backend/gpu_ops.ts";
import type { CompressorLayout } from "../../src/backend/compressor.ts";
import { encodeUpdate, type IndexMode } from "../../src/codec/update_codec.ts";
import { presetConfig } from "../../src/model/config.ts";
import { PARAM_ALIGN, paramLayout } from "../../src/model/params.ts";
import type { CompressOptions, QuantizedTensor } from "../../src/reference/sparseloco/compress.ts";
import { Rng } from "../../src/util/rng.ts";
import { type CheckResult, compare, type KernelCase } from "./check.ts";

const KERNEL = "compressor";
const WINDOWS = 2;

/** A layout of `shapes`, each tensor on PARAM_ALIGN elements, with a little padding after. */
function layoutOf(shapes: number[][]): CompressorLayout {
  let offset = 0;
  const entries = shapes.map((shape, i) => {
    const e = { name: `t${i}`, offset, shape };
    offset += Math.ceil((shape.reduce((a, b) => a * b, 1) + 1) / PARAM_ALIGN) * PARAM_ALIGN;
    return e;
  });
  return { entries, length: offset };
}

/** Awkward sizes: tiles that do not divide evenly, short 1-D chunks, a single entry. */
const AWKWARD = layoutOf([[96, 80], [70], [100, 48], [1], [4100], [3, 130], [256, 41]]);

function payload(tensors: QuantizedTensor[], mode: IndexMode): Uint8Array {
  const hash = new Uint8Array(32).fill(3);
  return encodeUpdate({
    indexMode: mode,
    runId: hash,
    window: 1,
    modelHash: hash,
    tensors: tensors.map((t, id) => ({ ...t, id })),
  });
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/**
 * WINDOWS windows of both compressors from one seeded start: a random error-feedback buffer
 * (padding too), then per window θ_start and a small step to θ_end.
 */
function compressorCase(
  label: string,
  layout: CompressorLayout,
  options: Partial<CompressOptions>,
  seed: number,
): KernelCase {
  return {
    kernel: KERNEL,
    shape: label,
    async run(rt) {
      const rng = new Rng(seed);
      const cpu = cpuOps(32).compressor(layout, options);
      const ops = gpuOps(rt);
      const gpu = ops.compressor(layout, options);
      const params = ops.tensor(layout.length, "compressor.params");
      const results: CheckResult[] = [];
      try {
        const e0 = rng.normals(layout.length, 1e-3);
        cpu.loadError(e0);
        gpu.loadError(e0);
        for (let w = 0; w < WINDOWS; w++) {
          const start = rng.normals(layout.length, 0.02);
          const end = start.map((x) => x + 1e-3 * rng.normal());
          const cpuParams = start.slice();
          cpu.begin(cpuParams);
          cpuParams.set(end);
          ops.write(params, start);
          gpu.begin(params);
          ops.write(params, end);
          const [want, got] = [await cpu.compress(cpuParams), await gpu.compress(params)];
          const at = `${label} window ${w}`;
          for (const mode of [0, 1] as IndexMode[]) {
            results.push(
              compare(
                KERNEL,
                at,
                `payload bytes (index mode ${mode})`,
                payload(got, mode),
                payload(want, mode),
                0,
                0,
              ),
            );
          }
          const [eGot, eWant] = [await gpu.readError(), await cpu.readError()];
          results.push(compare(KERNEL, at, "error feedback bits", bits(eGot), bits(eWant), 0, 0));
        }
      } finally {
        gpu.dispose();
        rt.dispose(params);
      }
      return results;
    },
  };
}

/** A non-finite θ_end is refused by both with a RangeError. */
const nonFiniteCase: KernelCase = {
  kernel: KERNEL,
  shape: "non-finite",
  async run(rt) {
    const rng = new Rng(77);
    const start = rng.normals(AWKWARD.length, 0.02);
    const end = start.slice();
    end[AWKWARD.entries[2].offset + 7] = NaN;
    const ops = gpuOps(rt);
    const params = ops.tensor(AWKWARD.length);
    const gpu = ops.compressor(AWKWARD, {});
    const cpu = cpuOps(32).compressor(AWKWARD, {});
    const refuses = async (f: () => Promise<unknown>) => {
      try {
        await f();
        return 0;
      } catch (e) {
        return e instanceof RangeError ? 1 : 0;
      }
    };
    ops.write(params, start);
    gpu.begin(params);
    ops.write(params, end);
    const got = await refuses(() => gpu.compress(params));
    const c = start.slice();
    cpu.begin(c);
    c.set(end);
    const want = await refuses(() => cpu.compress(c));
    gpu.dispose();
    rt.dispose(params);
    return [
      compare(KERNEL, "non-finite", "throws RangeError (gpu, cpu)", [got, want], [1, 1], 0, 0),
    ];
  },
};

/** Compressor cases: awkward layouts, a small k, the tiny model's layout, non-finite input. */
export const compressorCases: KernelCase[] = [
  compressorCase("awkward layout", AWKWARD, {}, 3000),
  compressorCase("awkward layout maxSide=16 k=3", AWKWARD, { maxSide: 16, k: 3, beta: 0.9 }, 3001),
  compressorCase("tiny model", paramLayout(presetConfig("tiny")), {}, 3002),
  nonFiniteCase,
];
