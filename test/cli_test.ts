/**
 * User mistakes on the command line end in one `error: …` line and exit code 1, never a stack
 * trace. Each case runs `deno task train`'s entry point as a separate process.
 */
import { writeBinShard } from "../src/data/bin_shard.ts";
import { runMain } from "../src/testing/run_main.ts";

const dir = await Deno.makeTempDir({ prefix: "webloco-cli-" });

async function train(...args: string[]) {
  const r = await runMain("src/cli/train_main.ts", args);
  return { ...r, stderr: r.stderr.trim() };
}

async function expectOneLineError(args: string[], pattern: RegExp) {
  const r = await train(...args);
  const lines = r.stderr.split("\n").filter((l) => l.trim().length > 0);
  if (r.code !== 1 || lines.length !== 1 || !lines[0].startsWith("error: ") || !pattern.test(lines[0])) {
    throw new Error(`train ${args.join(" ")}: exit ${r.code}, stderr:\n${r.stderr}\n(want one line matching ${pattern})`);
  }
}

Deno.test("train cli rejects an invalid model config with one line", async () => {
  const path = `${dir}/bad_model.json`;
  await Deno.writeTextFile(path, JSON.stringify({
    vocabSize: 256, dModel: 66, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnHidden: 64,
    context: 16, ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true,
  }));
  await expectOneLineError(["--config", path], /bad_model\.json: dModel 66 is not divisible by nHeads 4/);
  await Deno.writeTextFile(path, "{ not json");
  await expectOneLineError(["--config", path], /bad_model\.json: not valid JSON/);
});

Deno.test("train cli rejects a missing or empty corpus with one line", async () => {
  await expectOneLineError(["--corpus", `${dir}/nope.txt`], /nope\.txt/);
  await Deno.writeTextFile(`${dir}/empty.txt`, "");
  await expectOneLineError(["--corpus", `${dir}/empty.txt`], /empty/i);
});

Deno.test("train cli rejects a shard with a wrong header with one line", async () => {
  const shard = writeBinShard([1, 2, 3, 4, 5]);
  new DataView(shard.buffer).setInt32(0, 1234, true);
  await Deno.writeFile(`${dir}/bad.bin`, shard);
  await expectOneLineError(["--corpus", `${dir}/bad.bin`], /bad\.bin.*magic/);
});

Deno.test("train cli rejects a tokenizer file that does not parse with one line", async () => {
  await Deno.writeTextFile(`${dir}/tokenizer.json`, '{"model": {"type": "BPE", "vocab": ');
  await expectOneLineError(["--tokenizer", `${dir}/tokenizer.json`], /tokenizer\.json: not valid JSON/);
});

Deno.test("train cli rejects unknown options and bad numbers with one line", async () => {
  await expectOneLineError(["--stepz", "3"], /stepz/);
  await expectOneLineError(["--steps", "-3"], /--steps/);
  await expectOneLineError(["--steps", "0"], /--steps must be a positive integer/);
  await expectOneLineError(["--preset", "huge"], /unknown model preset "huge"/);
});
