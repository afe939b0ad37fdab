import { assert, assertEquals } from "../testing/assert.ts";
import { runMain } from "../testing/run_main.ts";
import { hex } from "../util/hex.ts";
import { runIdOf } from "../protocol/genesis.ts";
import { readGenesisFile } from "./genesis_file.ts";
import { byteLevelBpeJson } from "../data/byte_level_bpe_json.ts";
import { PRESETS } from "../model/config.ts";
import { genesisFieldTable } from "../protocol/genesis_schema.ts";
import { sha256Sync } from "../util/hash.ts";

const MAIN = new URL("./genesis_main.ts", import.meta.url).pathname;
const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

async function genesis(...args: string[]) {
  const r = await runMain(MAIN, args, ["--allow-read", "--allow-write", "--allow-env"]);
  return { ...r, stdout: r.stdout.trim() };
}

Deno.test("genesis CLI writes a local genesis, checks it, and reports bad input in one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/genesis.json`;
    const made = await genesis(
      "--out",
      path,
      "--validator",
      ALICE,
      "--start",
      "1750000000000",
      "--window-ms",
      "5000",
    );
    assertEquals(made.code, 0, made.stderr);
    const g = await readGenesisFile(path);
    assertEquals([g.genesisTime, g.windowMs, g.validators], [1_750_000_000_000, 5000, [ALICE]]);
    assertEquals(made.stdout, hex(runIdOf(g)));
    const checked = await genesis("--check", path);
    assertEquals([checked.code, checked.stdout], [0, made.stdout]);
    const again = await genesis("--out", path, "--validator", ALICE);
    assertEquals(again.code, 1);
    assert(again.stderr.includes("refusing to overwrite"), again.stderr);
    const badValidator = await genesis("--out", `${dir}/x.json`, "--validator", "5Grw");
    assertEquals(badValidator.code, 1);
    assertEquals(
      badValidator.stderr,
      'error: local genesis: validators[0] must be an SS58 address, got "5Grw"\n',
    );
    await Deno.writeTextFile(
      `${dir}/bad.json`,
      JSON.stringify({ ...g, sparseloco: { ...g.sparseloco, beta: 1.5 } }),
    );
    const bad = await genesis("--check", `${dir}/bad.json`);
    assertEquals(bad.code, 1);
    assertEquals(
      bad.stderr,
      `error: ${dir}/bad.json: sparseloco.beta must be in [0, 1), got 1.5\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A byte-level BPE tokenizer.json with one merge ("h" "e"): vocabulary 257. */
function tokenizerJson(): string {
  return JSON.stringify(byteLevelBpeJson({
    tokens: { he: 256 },
    merges: [["h", "e"]],
    preTokenizer: {
      type: "ByteLevel",
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: true,
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  }));
}

Deno.test("genesis CLI sets every parameter, hashes the files, and --check reports each problem", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/shards/sub`, { recursive: true });
    const enc = new TextEncoder();
    await Deno.writeFile(`${dir}/shards/b.txt`, enc.encode("hello there\n"));
    await Deno.writeFile(`${dir}/shards/sub/a.jsonl`, enc.encode('{"text":"hello"}\n'));
    await Deno.writeFile(`${dir}/shards/skip.md`, enc.encode("not a corpus file"));
    await Deno.writeTextFile(`${dir}/tokenizer.json`, tokenizerJson());
    const path = `${dir}/run/genesis.json`;
    const made = await genesis(
      ...["--out", path, "--validator", ALICE, "--name", "mine", "--start", "2026-12-02T12:00:00Z"],
      ...[
        "--window-ms",
        "60000",
        "--bootstrap",
        "/ip4/127.0.0.1/tcp/4001",
        "--max-contributors",
        "8",
      ],
      ...["--checkpoint-interval", "5", "--model", "small", "--model-config", '{"context":96}'],
      ...["--tokenizer", `${dir}/tokenizer.json`, "--corpus", `${dir}/shards`, "--seed", "9"],
      ...["--batch", "3", "--valid-fraction", "0.05", "--lr", "0.001", "--warmup", "7"],
      ...["--total-steps", "900", "--min-ratio", "0.2", "--beta1", "0.8", "--beta2", "0.99"],
      ...["--eps", "1e-7", "--weight-decay", "0.01", "--grad-clip", "2", "--H", "12"],
      ...["--beta", "0.9", "--k", "32", "--alpha", "0.5", "--index-mode", "packed"],
      ...["--max-side", "32", "--chunk", "128", "--range-sigmas", "4"],
      ...["--gauntlet", '{"evalBudget":4}'],
    );
    assertEquals(made.code, 0, made.stderr);
    const g = await readGenesisFile(path);
    assertEquals(made.stdout, hex(runIdOf(g)));
    const shard = (p: string) => Deno.readFile(`${dir}/shards/${p}`);
    const ref = (p: string, bytes: Uint8Array) => ({
      path: p,
      sha256: hex(sha256Sync(bytes)),
      bytes: bytes.length,
    });
    const tok = await Deno.readFile(`${dir}/tokenizer.json`);
    assertEquals(g, {
      version: 1,
      name: "mine",
      genesisTime: Date.parse("2026-12-02T12:00:00Z"),
      windowMs: 60_000,
      model: { ...PRESETS.small, context: 96, vocabSize: 257 },
      tokenizer: ref("../tokenizer.json", tok),
      data: {
        corpus: [
          ref("../shards/b.txt", await shard("b.txt")),
          ref("../shards/sub/a.jsonl", await shard("sub/a.jsonl")),
        ],
        seed: 9,
        batch: 3,
        validFraction: 0.05,
      },
      inner: {
        lr: 0.001,
        warmup: 7,
        totalSteps: 900,
        minRatio: 0.2,
        beta1: 0.8,
        beta2: 0.99,
        eps: 1e-7,
        weightDecay: 0.01,
        gradClip: 2,
      },
      sparseloco: {
        H: 12,
        beta: 0.9,
        k: 32,
        alpha: 0.5,
        indexMode: "packed",
        maxSide: 32,
        chunk: 128,
        rangeSigmas: 4,
      },
      maxContributors: 8,
      validators: [ALICE],
      bootstrap: ["/ip4/127.0.0.1/tcp/4001"],
      checkpointInterval: 5,
      gauntlet: { evalBudget: 4 },
    });
    assert(made.stderr.includes("sparseloco  H 12, k 32 per 32×32 tile"), made.stderr);
    const good = await genesis("--check", path, "--run-id", made.stdout);
    assertEquals([good.code, good.stdout], [0, made.stdout], good.stderr);

    // Two problems at once: a shard changed since, and the wrong run id; the missing one is a note.
    await Deno.writeFile(`${dir}/shards/b.txt`, enc.encode("hello THERE\n"));
    await Deno.rename(`${dir}/shards/sub/a.jsonl`, `${dir}/a.jsonl`);
    const bad = await genesis("--check", path, "--run-id", "00".repeat(32));
    assertEquals(bad.code, 1);
    const lines = bad.stderr.split("\n").filter((l) => /^(problem|note|error):/.test(l));
    assertEquals(lines, [
      'note: data.corpus[1] "../shards/sub/a.jsonl": not at hand, SHA-256 not checked',
      `problem: ${path}: run id is ${made.stdout}, not ${"00".repeat(32)}`,
      `problem: ${path}: data.corpus[0].path "../shards/b.txt": SHA-256 is ${
        hex(sha256Sync(enc.encode("hello THERE\n")))
      }, the genesis says ${g.data.corpus !== "default" && g.data.corpus[0].sha256}`,
      `error: ${path}: 2 problem(s)`,
    ]);
    const badFlag = await genesis("--out", `${dir}/x.json`, "--validator", ALICE, "--k", "x");
    assertEquals(badFlag.stderr, 'error: --k must be an integer, got "x"\n');
    const badRange = await genesis("--out", `${dir}/x.json`, "--validator", ALICE, "--beta", "1");
    assertEquals(
      badRange.stderr,
      "error: local genesis: sparseloco.beta must be in [0, 1), got 1\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("genesis CLI --doc prints the field table", async () => {
  const r = await genesis("--doc");
  assertEquals([r.code, r.stdout], [0, genesisFieldTable().trim()], r.stderr);
});
