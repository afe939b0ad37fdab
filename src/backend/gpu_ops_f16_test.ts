/**
 * Training with f16 matmul inputs tracks f32 training: bench/f16_training.ts, short, as a
 * `deno run` child (Dawn's mapAsync can stall inside `deno test`) on Dawn unless WEBLOCO_GPU says
 * wgpu: lavapipe trains faster once its shaders are compiled, but compiling the tiled attention
 * takes it minutes on a fresh machine (Mesa's shader cache empty: 4 min against Dawn's 66 s for
 * this test, 2026-12-01).
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { RESULT_PREFIX } from "../../bench/f16_training.ts";

/**
 * Largest |loss_f16 − loss_f32| / loss_f32 allowed over the run. Measured 3.3e-6 for this run
 * (10 steps × batch 2, lavapipe, 2026-12-01) and 8.5e-4 at worst over 60 steps × batch 4
 * (bench/f16_training.json): rounding every operand to f16 moves each matmul by ~1e-3
 * relative, and the mean over the batch's tokens averages most of it out.
 */
const MAX_REL_DIFF = 1e-3;

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
  const { f32, f16 } = r.losses as { f32: number[]; f16: number[] };
  assertEquals(f16.length, 10);
  // The f16 path ran (other bits) and learned, and stays close to f32 at every step.
  assert(
    f16.some((l, i) => l !== f32[i]),
    "f16-input losses are bit-identical to f32: the f16 path did not run",
  );
  assert(f16[9] < f16[0] - 0.3, `f16-input loss did not fall: ${f16[0]} → ${f16[9]}`);
  assert(
    r.maxRelLossDiff <= MAX_REL_DIFF,
    `f16-input loss drifted ${r.maxRelLossDiff} (> ${MAX_REL_DIFF}) from f32 at step ${r.maxRelLossDiffStep}`,
  );
});
