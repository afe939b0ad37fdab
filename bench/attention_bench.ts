/**
 * The attention kernels' wall time (forward; backward = dq + dk/dv) at the tiny preset's shape
 * and at context 2048, head size 128, on the runtime's default adapter (WEBLOCO_GPU picks Dawn or
 * Deno's wgpu). Merges one run into bench/attention.json under `--label` and the adapter, so that
 * runs of two versions of the kernel (old and new) sit side by side.
 *
 *   deno run -A --unstable-webgpu bench/attention_bench.ts [--label NAME] [--min-ms 1000]
 *
 * @module
 */
import { openRuntime } from "../src/kernels/open_runtime.ts";
import { adapterLabel } from "../src/gpu/device.ts";
import type { GpuRuntime } from "../src/gpu/runtime.ts";
import { attentionBackward, attentionForward } from "../src/kernels/attention.ts";
import { numberFlag, parseFlags, runCli } from "../src/cli/cli.ts";
import { writeFileAtomic } from "../src/util/atomic_write.ts";
import { Rng } from "../src/util/rng.ts";

const RESULTS = "bench/attention.json";

/** One attention shape: [what, B, T, NH, NKV, D]. */
export type AttentionShape = [string, number, number, number, number, number];

/** The tiny preset at batch 8, and one head at the longest context. */
export const SHAPES: AttentionShape[] = [
  ["tiny preset (B 8, T 64, NH 4, NKV 2, D 16)", 8, 64, 4, 2, 16],
  ["T 2048, D 128 (B 1, NH 1, NKV 1)", 1, 2048, 1, 1, 128],
];

/** Mean wall ms of `fn` + sync over at least `minMs` (after a warm-up that compiles pipelines). */
async function timeIt(rt: GpuRuntime, fn: () => void, minMs: number): Promise<number> {
  fn();
  await rt.sync();
  let reps = 0;
  const t0 = performance.now();
  while (reps === 0 || performance.now() - t0 < minMs) {
    fn();
    await rt.sync();
    reps++;
  }
  return (performance.now() - t0) / reps;
}

/** Forward and backward wall ms and GFLOP/s of each shape (scripts/gpu_check.ts uses it too). */
export async function attentionRows(rt: GpuRuntime, minMs: number, shapes: AttentionShape[] = SHAPES) {
  const rows = [];
  for (const [what, B, T, NH, NKV, D] of shapes) {
    const nq = B * T * NH * D, nkv = B * T * NKV * D, rng = new Rng(T + D);
    const make = (n: number) => {
      const t = rt.tensor(n);
      rt.write(t, rng.normals(n));
      return t;
    };
    const q = make(nq), k = make(nkv), v = make(nkv), dout = make(nq);
    const out = rt.tensor(nq), lse = rt.tensor(B * NH * T);
    const dq = rt.tensor(nq), dk = rt.tensor(nkv), dv = rt.tensor(nkv);
    const forwardMs = await timeIt(rt, () => attentionForward(rt, out, lse, q, k, v, B, T, NH, NKV, D), minMs);
    const backwardMs = await timeIt(
      rt,
      () => attentionBackward(rt, dq, dk, dv, dout, q, k, v, out, lse, B, T, NH, NKV, D),
      minMs,
    );
    // Causal: half the T² score matrix; forward 2 matmuls (QKᵀ, PV), backward 5 (S, dP, dV, dQ, dK).
    const half = B * NH * T * T * D;
    const row = {
      what,
      shape: { B, T, NH, NKV, D },
      forwardMs,
      backwardMs,
      forwardGflops: (2 * half) / forwardMs / 1e6,
      backwardGflops: (5 * half) / backwardMs / 1e6,
    };
    console.log(`${what}: forward ${forwardMs.toFixed(2)} ms, backward ${backwardMs.toFixed(2)} ms`);
    rows.push(row);
    for (const t of [q, k, v, dout, out, lse, dq, dk, dv]) rt.dispose(t);
  }
  return rows;
}

if (import.meta.main) await runCli(async () => {
  const { values } = parseFlags({
    args: Deno.args,
    options: { label: { type: "string" }, "min-ms": { type: "string" } },
  }, "usage: attention_bench.ts [--label NAME] [--min-ms MS]");
  const label = values.label ?? "current";
  const minMs = numberFlag("min-ms", values["min-ms"], 1000, { integer: true });
  const rt = await openRuntime();
  try {
    const adapter = adapterLabel(rt.adapter);
    console.log(`attention on ${adapter}, label ${label}`);
    const shapes = await attentionRows(rt, minMs);
    let all: Record<string, Record<string, unknown>> = {};
    try {
      all = JSON.parse(await Deno.readTextFile(RESULTS));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    all[label] = { ...all[label], [rt.adapter.backend]: { date: new Date().toISOString(), adapter, shapes } };
    await writeFileAtomic(RESULTS, JSON.stringify(all, null, 2) + "\n");
  } finally {
    rt.destroy();
  }
});
