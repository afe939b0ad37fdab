/**
 * Training with f16 matmul inputs, and with f16 activations, tracks f32 training:
 * bench/f16_training.ts, short, as a `deno run` child (Dawn's mapAsync can stall inside
 * `deno test`) on Dawn unless WEBLOCO_GPU says wgpu: lavapipe trains faster once its shaders are
 * compiled, but compiling the tiled attention takes it minutes on a fresh machine (Mesa's shader
 * cache empty: 4 min against Dawn's 66 s for the two-run version of this test, 2026-12-01). And
 * the f16-activation backend allocates what src/model/memory.ts counts.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { RESULT_PREFIX } from "../../bench/f16_training.ts";
import { openRuntime } from "../kernels/open_runtime.ts";
import { throttleDawnPolling } from "../testing/dawn_poll.ts";
import { gpuOpsF16 } from "./gpu_ops_f16.ts";
import type { Ops } from "./ops.ts";
import type { GpuTensor } from "../gpu/runtime.ts";
import { Llama } from "../model/llama.ts";
import { Trainer } from "../train/trainer.ts";
import type { ModelConfig } from "../model/config.ts";
import { memoryNeeds } from "../model/memory.ts";

/**
 * Largest |loss_f16 − loss_f32| / loss_f32 allowed over the run. Measured 3.3e-6 for this run
 * (10 steps × batch 2, lavapipe, 2026-12-01); over 60 steps × batch 4 (bench/f16_training.json)
 * ≤ 2.3e-5 for 40 steps, then up to 1.3e-3 once the trajectories drift apart: rounding every
 * operand to f16 moves each matmul by ~1e-3 relative, and the mean over the batch's tokens
 * averages most of it out.
 */
const MAX_REL_DIFF = 1e-3;

interface Run {
  losses: number[];
  maxRelLossDiff: number;
  maxRelLossDiffStep: number;
}

Deno.test("gpuOpsF16 training loss tracks the f32 run on the tiny preset", async () => {
  const backend = Deno.env.get("WEBLOCO_GPU") === "wgpu" ? "wgpu" : "dawn";
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-webgpu",
      new URL("../../bench/f16_training.ts", import.meta.url).pathname,
      "--backend",
      backend,
      "--steps",
      "10",
      "--batch",
      "2",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
  assert(
    out.code === 0 && line !== undefined,
    `f16_training failed (exit ${out.code}): ${text}\n${new TextDecoder().decode(out.stderr)}`,
  );
  const r = JSON.parse(line.slice(RESULT_PREFIX.length));
  const f32 = r.runs.f32.losses as number[];
  const { f16Inputs, f16Activations } = r.runs as Record<string, Run>;
  for (
    const [name, run] of [["f16 inputs", f16Inputs], ["f16 activations", f16Activations]] as const
  ) {
    const l = run.losses;
    assertEquals(l.length, 10);
    // The f16 path ran (other bits) and learned, and stays close to f32 at every step.
    assert(
      l.some((x, i) => x !== f32[i]),
      `${name}: losses are bit-identical to f32: the f16 path did not run`,
    );
    assert(l[9] < l[0] - 0.3, `${name}: loss did not fall: ${l[0]} → ${l[9]}`);
    assert(
      run.maxRelLossDiff <= MAX_REL_DIFF,
      `${name}: loss drifted ${run.maxRelLossDiff} (> ${MAX_REL_DIFF}) from f32 at step ${run.maxRelLossDiffStep}`,
    );
  }
  assert(r.activationBytes.f16 < r.activationBytes.f32, "f16 activations take no less memory");
});

/** Two layers (so per-layer labels l0, l1 both match), GQA 2:1, untied head, even sizes. */
const CFG: ModelConfig = {
  vocabSize: 40,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  ffnHidden: 48,
  context: 16,
  ropeTheta: 10000,
  normEps: 1e-5,
  tiedEmbeddings: false,
};

Deno.test({
  name: "gpuOpsF16 with activations allocates what memoryNeeds counts",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    throttleDawnPolling();
    const rt = await openRuntime();
    try {
      for (const recompute of [false, true]) {
        const ops = gpuOpsF16(rt, { activations: true });
        let bytes = 0;
        const packed: string[] = [];
        const count = (t: GpuTensor, label?: string) => {
          bytes += 4 * t.length;
          if (
            t.dtype === "u32" && label !== undefined &&
            !/tokens|targets|rowStart|positions/.test(label)
          ) {
            packed.push(label);
          }
          return t;
        };
        const counted: Ops<GpuTensor> = {
          ...ops,
          tensor: (n, label, split) => count(ops.tensor(n, label, split), label),
          indices: (n, label) => count(ops.indices(n, label), label),
        };
        new Trainer(counted, new Llama(counted, CFG, 2, CFG.context, { recompute }));
        const f16 = memoryNeeds(CFG, "train", 2, CFG.context, { recompute, f16Activations: true });
        assertEquals(bytes, f16.total);
        const f32 = memoryNeeds(CFG, "train", 2, CFG.context, { recompute });
        assertEquals(f32.total - f16.total, f16.f16Saving);
        assertEquals(f32.f16Saving, f16.f16Saving);
        // The matmul inputs, and only they: recompute shares one layer's set (labelled l0).
        const want = recompute
          ? ["l0.xn", "l0.att", "l0.xn2", "l0.h", "xfn"]
          : ["l0.xn", "l0.att", "l0.xn2", "l0.h", "l1.xn", "l1.att", "l1.xn2", "l1.h", "xfn"];
        assertEquals(packed, want);
      }
    } finally {
      rt.destroy();
    }
  },
});
