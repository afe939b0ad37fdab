import { decodeSafetensors } from "../codec/safetensors.ts";
import { modelHash } from "../codec/model_hash.ts";
import { validateModelConfig } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { paramLayout } from "../model/params.ts";
import { assert, assertEquals, assertNotEquals } from "../testing/assert.ts";
import { runMain } from "../testing/run_main.ts";
import { hex } from "../util/hex.ts";

const MAIN = new URL("./train_main.ts", import.meta.url).pathname;
const PERMS = ["-A", "--unstable-webgpu"];

/** A model small enough that a CPU step takes milliseconds. */
const MICRO = {
  vocabSize: 256,
  dModel: 16,
  nLayers: 1,
  nHeads: 2,
  nKvHeads: 1,
  ffnHidden: 32,
  context: 8,
  ropeTheta: 10000,
  normEps: 1e-5,
  tiedEmbeddings: true,
};

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "webloco_train_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function train(args: string[]) {
  const r = await runMain(MAIN, ["--backend", "cpu", ...args], PERMS);
  if (r.code !== 0) {
    throw new Error(`train ${args.join(" ")} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

/** The modelHash a checkpoint file records. */
async function recordedHash(path: string): Promise<string> {
  return decodeSafetensors(await Deno.readFile(path)).metadata.modelHash;
}

Deno.test("train --resume continues bit for bit: 2N steps equal N steps then N resumed", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/micro.json`, JSON.stringify(MICRO));
    // A corpus file without an extension, read as text by --format.
    await Deno.writeTextFile(
      `${dir}/corpus`,
      "In the beginning God created the heaven and the earth. ".repeat(40),
    );
    const common = [
      "--config",
      `${dir}/micro.json`,
      "--corpus",
      `${dir}/corpus`,
      "--format",
      "text",
      "--batch",
      "2",
      "--steps",
      "6",
      "--warmup",
      "2",
      "--eval-every",
      "3",
      "--eval-batches",
      "2",
      "--save-every",
      "3",
    ];
    const whole = await train([...common, "--out", `${dir}/a`]);
    assert(
      /step +3\/6 · loss [\d.]+ · held-out [\d.]+/.test(whole),
      `held-out loss reported:\n${whole}`,
    );
    const end = await recordedHash(`${dir}/a/step-00000006.safetensors`);

    // The same run stopped after 3 steps: its folder holds train.json and the step-3 checkpoint.
    await Deno.mkdir(`${dir}/b`);
    for (const f of ["train.json", "step-00000003.safetensors"]) {
      await Deno.copyFile(`${dir}/a/${f}`, `${dir}/b/${f}`);
    }
    const resumed = await train(["--resume", `${dir}/b`]);
    assert(resumed.includes("at step 3"), resumed);
    assertEquals(
      await Deno.readFile(`${dir}/b/step-00000006.safetensors`),
      await Deno.readFile(`${dir}/a/step-00000006.safetensors`),
      "the resumed run's checkpoint (parameters and AdamW moments) is the uninterrupted run's",
    );

    const layout = paramLayout(validateModelConfig(MICRO));
    const start = hex(await modelHash(initParams(layout, MICRO, 1)));
    assertNotEquals(end, start, "training moved the model");
    assertNotEquals(end, await recordedHash(`${dir}/a/step-00000003.safetensors`));

    const again = await runMain(MAIN, ["--out", `${dir}/a`, ...common], PERMS);
    assertEquals(again.code, 1);
    assert(again.stderr.includes("already holds a run"), again.stderr);
    const changed = await runMain(MAIN, ["--resume", `${dir}/b`, "--lr", "1"], PERMS);
    assertEquals(changed.code, 1);
    assertEquals(
      changed.stderr.trim(),
      `error: --lr cannot change a resumed run (its settings are in ${dir}/b/train.json)`,
    );
    const bad = await runMain(MAIN, ["--backend", "gpu"], PERMS);
    assertEquals(bad.stderr.trim(), 'error: --backend must be auto, dawn, wgpu, cpu, got "gpu"');
  });
});

Deno.test("train saves the step under way on Ctrl-C (SIGINT) and says how to resume", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/micro.json`, JSON.stringify(MICRO));
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...PERMS,
        MAIN,
        "--backend",
        "cpu",
        "--config",
        `${dir}/micro.json`,
        "--batch",
        "1",
        "--steps",
        "100000",
        "--save-every",
        "0",
        "--eval-every",
        "0",
        "--log-every",
        "1",
        "--out",
        `${dir}/run`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let text = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (!/step +3\/100000/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    child.kill("SIGINT");
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
    const status = await child.status;
    await child.stderr.cancel();
    assertEquals(status.code, 0, text);
    const m = /interrupted at step (\d+)\/100000; --resume (\S+) continues/.exec(text);
    assert(m !== null, text);
    assertEquals(m[2], `${dir}/run`);
    const step = Number(m[1]);
    assert(step >= 3 && step < 100000, text);
    assert(
      text.includes(`saved ${dir}/run/step-${String(step).padStart(8, "0")}.safetensors`),
      text,
    );
  });
});
