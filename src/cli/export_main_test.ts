import { encodeCheckpoint } from "../codec/checkpoint.ts";
import { signMessage } from "../codec/messages.ts";
import { modelHashSync } from "../codec/model_hash.ts";
import { ByteTokenizer } from "../data/byte_tokenizer.ts";
import { ExportError } from "../export/export_error.ts";
import { byteTokenizerJson } from "../export/byte_tokenizer_json.ts";
import { loadExportedFolder } from "../export/exported_folder.ts";
import { hfConfig } from "../export/hf_config.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { paramLayout } from "../model/params.ts";
import { createDenoNode } from "../net/deno_node.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { initialParams, type RunContext, runContext } from "../protocol/run_context.ts";
import { RoleState } from "../roles/role_state.ts";
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { sha256Sync } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { exportMain } from "./export_main.ts";
import { FileStore } from "./file_store.ts";
import { generateMain, loadModelFolder } from "./generate_main.ts";

const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
/**
 * SHA-256 of the model.safetensors exported from θ₀ of the local genesis below (window 0).
 * A change to the file's bytes (names, order, header, metadata, θ₀) must be deliberate.
 */
const GOLDEN_WEIGHTS_SHA256 = "90de1d51e64b5b07e6a765d4cc91562b3c76f9927de20c1047a16bae29d8e2d7";
/** SHA-256 of the onnx/model.onnx of the same export. */
const GOLDEN_ONNX_SHA256 = "6e6ac94cd810cc856d5762af9790b8d2b9d8fe23ca603a108f06f709f31a7ce5";

function checkpoint(ctx: RunContext, params: Float32Array, window: number): Uint8Array {
  return encodeCheckpoint(ctx.tensors, params, {
    runId: ctx.runIdHex,
    window,
    modelHash: hex(modelHashSync(params)),
  });
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

async function withRun(
  fn: (dir: string, ctx: RunContext, genesisPath: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const g = localGenesis({ validators: [ALICE], genesisTime: 1_750_000_000_000 });
    const genesisPath = `${dir}/genesis.json`;
    await Deno.writeTextFile(genesisPath, JSON.stringify(g, null, 2));
    await fn(dir, runContext(g), genesisPath);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("exportMain writes a Hugging Face folder that reloads bit-identical (golden weights)", async () => {
  await withRun(async (dir, ctx, genesis) => {
    const theta = initialParams(ctx);
    await Deno.writeFile(`${dir}/ck.safetensors`, checkpoint(ctx, theta, 0));
    const out = `${dir}/hf`;
    const lines = await exportMain([
      "--genesis",
      genesis,
      "--checkpoint",
      `${dir}/ck.safetensors`,
      "--out",
      out,
      "--valid-sequences",
      "2",
    ]);
    assert(lines[0].includes("window 0") && lines[0].includes("validation loss"), lines[0]);
    const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assertEquals(names, [
      "README.md",
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "onnx",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    // The ONNX file is the same model (its metadata names the weights' model hash) …
    const folder = await loadExportedFolder((name) => Deno.readFile(`${out}/${name}`), out);
    assert(folder.onnx.length > 4 * paramLayout(ctx.genesis.model).count, "ONNX without weights");
    // … and its bytes change only deliberately (graph, names, opset, θ₀).
    assertEquals(hex(sha256Sync(folder.onnx)), GOLDEN_ONNX_SHA256);
    assertEquals(
      hex(sha256Sync(await Deno.readFile(`${out}/model.safetensors`))),
      GOLDEN_WEIGHTS_SHA256,
    );
    assertEquals(
      JSON.parse(await Deno.readTextFile(`${out}/config.json`)),
      hfConfig(ctx.genesis.model),
    );
    const back = await loadModelFolder(out);
    assertEquals(back.config, ctx.genesis.model);
    assert(sameBits(back.params, theta), "reloaded θ differs from the checkpoint's");
    const text = "Ge1:1 héllo";
    assertEquals([...back.tokenizer.encode(text)], [...new ByteTokenizer().encode(text)]);
    const card = await Deno.readTextFile(`${out}/README.md`);
    for (const want of [ctx.runIdHex, "window 0", "public domain", "validation loss | "]) {
      assert(card.includes(want), `model card lacks ${want}`);
    }
  });
});

Deno.test("exportMain takes a data directory's newest model", async () => {
  await withRun(async (dir, ctx, genesis) => {
    const theta = initialParams(ctx);
    const later = theta.map((
      x,
      i,
    ) => (ctx.layout.entries.some((e) => i >= e.offset && i < e.offset + e.size) ? x * 1.5 : 0));
    const data = `${dir}/data`;
    await Deno.mkdir(`${data}/checkpoints`, { recursive: true });
    await Deno.writeFile(`${data}/checkpoints/0000000000.safetensors`, checkpoint(ctx, theta, 0));
    await new RoleState(await FileStore.open(data)).save(
      ctx,
      { applied: 2, lastTrained: 2, params: later },
      modelHashSync(later),
    );
    const lines = await exportMain([
      "--genesis",
      genesis,
      "--data-dir",
      data,
      "--out",
      `${dir}/hf`,
      "--valid-sequences",
      "0",
    ]);
    assert(lines[0].includes(`${data}/state.json`) && lines[0].includes("window 3"), lines[0]);
    assert(sameBits((await loadModelFolder(`${dir}/hf`)).params, later), "not the saved state's θ");
  });
});

Deno.test("exportMain refuses a missing, corrupted or foreign checkpoint and a non-empty folder", async () => {
  await withRun(async (dir, ctx, genesis) => {
    const run = (ck: string, out = `${dir}/hf`) =>
      exportMain([
        "--genesis",
        genesis,
        "--checkpoint",
        ck,
        "--out",
        out,
        "--valid-sequences",
        "0",
      ]);
    await assertRejects(
      () => run(`${dir}/none`),
      ExportError,
      `${dir}/none: cannot read the checkpoint (no such file)`,
    );
    const bytes = checkpoint(ctx, initialParams(ctx), 0);
    bytes[bytes.length - 3] ^= 0x40;
    await Deno.writeFile(`${dir}/bad`, bytes);
    await assertRejects(
      () => run(`${dir}/bad`),
      ExportError,
      `${dir}/bad: checkpoint: corrupted: the tensors hash to`,
    );
    const other = runContext(localGenesis({ validators: [ALICE], genesisTime: 1, name: "other" }));
    await Deno.writeFile(`${dir}/other`, checkpoint(other, initialParams(other), 0));
    await assertRejects(
      () => run(`${dir}/other`),
      ExportError,
      `${dir}/other: checkpoint: wrong run: checkpoint of run ${other.runIdHex}`,
    );
    await Deno.writeFile(`${dir}/ok`, checkpoint(ctx, initialParams(ctx), 0));
    await Deno.mkdir(`${dir}/full`);
    await Deno.writeTextFile(`${dir}/full/x`, "");
    await assertRejects(
      () => run(`${dir}/ok`, `${dir}/full`),
      ExportError,
      `${dir}/full: the output folder exists and is not empty`,
    );
    await assertRejects(
      () => exportMain(["--genesis", genesis, "--data-dir", `${dir}/nowhere`, "--out", `${dir}/o`]),
      ExportError,
      `${dir}/nowhere: no such data directory`,
    );
    assertEquals(
      [...Deno.readDirSync(dir)].filter((e) => e.name.includes(".tmp-")),
      [],
      "temporary folders left",
    );
  });
});

/** Exports `dir/ck` of the run in `genesis` to `dir/hf`, without a validation loss. */
function exportCheckpoint(dir: string, genesis: string): Promise<string[]> {
  return exportMain([
    ...["--genesis", genesis, "--checkpoint", `${dir}/ck`, "--out", `${dir}/hf`],
    ...["--valid-sequences", "0"],
  ]);
}

Deno.test("generateMain streams the prompt and its tokens, the same for the same seed", async () => {
  await withRun(async (dir, ctx, genesis) => {
    await Deno.writeFile(`${dir}/ck`, checkpoint(ctx, initialParams(ctx), 0));
    await exportCheckpoint(dir, genesis);
    const run = async (extra: string[]) => {
      let text = "";
      const ids = await generateMain(
        ["--model", `${dir}/hf`, "--prompt", "In the", "--max-tokens", "8", ...extra],
        (t) => {
          text += t;
        },
      );
      return { ids, text };
    };
    const a = await run(["--temperature", "1", "--top-p", "0.9", "--seed", "4"]);
    assertEquals(a.ids.length, 8);
    assertEquals(a.text, "In the" + new ByteTokenizer().decode(a.ids) + "\n");
    assertEquals(await run(["--temperature", "1", "--top-p", "0.9", "--seed", "4"]), a);
    assertEquals(
      (await run(["--temperature", "0"])).ids,
      (await run(["--top-k", "1", "--seed", "9"])).ids,
    );
    await Deno.writeTextFile(`${dir}/hf/config.json`, "{}");
    await assertRejects(
      () => run([]),
      ExportError,
      `${dir}/hf/config.json: "vocab_size" is missing`,
    );
  });
});

Deno.test("exportMain ships a run's own tokenizer.json as is", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A BPE file the run names (here ours with a merge added, so the shipped file must be this one).
    const tok = JSON.parse(byteTokenizerJson());
    tok.model.merges = [["a", "b"]];
    const text = JSON.stringify(tok);
    await Deno.writeTextFile(`${dir}/tok.json`, text);
    const g = localGenesis({
      validators: [ALICE],
      genesisTime: 0,
      tokenizer: { path: "tok.json", sha256: hex(sha256Sync(new TextEncoder().encode(text))) },
    });
    await Deno.writeTextFile(`${dir}/genesis.json`, JSON.stringify(g));
    const ctx = runContext(g);
    await Deno.writeFile(`${dir}/ck`, checkpoint(ctx, initialParams(ctx), 0));
    await exportCheckpoint(dir, `${dir}/genesis.json`);
    assertEquals(await Deno.readTextFile(`${dir}/hf/tokenizer.json`), text);
    assert((await Deno.readTextFile(`${dir}/hf/README.md`)).includes("tok.json"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportMain --bootstrap fetches a live run's newest checkpoint over libp2p, checked against its signed record", async () => {
  await identityReady();
  const alice = KeySigner.fromUri("//Alice");
  await withRun(async (dir, ctx, genesis) => {
    const theta = initialParams(ctx).map((x) => x * 1.5);
    const bytes = checkpoint(ctx, theta, 3);
    const server = await createDenoNode({
      runId: ctx.runId,
      validate: () => "ignore",
      bootstrapIntervalMs: 0,
    });
    try {
      const hash = await server.store.add(bytes);
      // The record of window 2 made θ₃; `next` is its nextModelHash.
      const record = (next: Uint8Array) =>
        signMessage(alice, {
          runId: ctx.runId,
          timestamp: ctx.clock.windowEnd(2) + 1_000,
          body: {
            kind: "round-record",
            window: 2,
            modelHash: new Uint8Array(32),
            nextModelHash: next,
            contributors: [{ address: alice.address, payloadHash: new Uint8Array(32) }],
          },
        });
      let served = await record(modelHashSync(theta));
      server.setSyncSource({
        records: (from) => (from <= 2 ? [served] : []),
        checkpoint: () => ({ window: 3, hash, size: bytes.length }),
      });
      const ma = server.addresses().find((a) => a.includes("/tcp/") && !a.includes("/ws"))!;
      const lines = await exportMain([
        "--genesis",
        genesis,
        "--bootstrap",
        ma,
        "--out",
        `${dir}/hf`,
        "--valid-sequences",
        "0",
      ]);
      assert(lines[0].includes("window 3"), lines[0]);
      const back = await loadModelFolder(`${dir}/hf`);
      assert(sameBits(back.params, theta), "exported θ differs from the served checkpoint");
      // A checkpoint that no signed record made is refused.
      served = await record(new Uint8Array(32).fill(7));
      await assertRejects(
        () =>
          exportMain([
            "--genesis",
            genesis,
            "--bootstrap",
            ma,
            "--out",
            `${dir}/hf2`,
            "--valid-sequences",
            "0",
          ]),
        ExportError,
        "is not what the signed record 2 made",
      );
    } finally {
      await server.stop();
    }
  });
});
