import { assertEquals } from "../testing/assert.ts";
import { sha256Sync } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { GenesisError, runIdOf } from "../protocol/genesis.ts";
import { readGenesisFile, readGenesisRef } from "./genesis_file.ts";
import { localGenesis } from "../protocol/local_genesis.ts";

const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const T0 = 1_750_000_000_000;

async function rejects(fn: () => Promise<unknown>, message: string): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof GenesisError)) throw e;
    assertEquals(e.message, message);
    return;
  }
  throw new Error(`expected GenesisError "${message}"`);
}

Deno.test("readGenesisFile reads a genesis with the same run id and reports file problems", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const g = localGenesis({ validators: [ALICE], genesisTime: T0 });
    const path = `${dir}/genesis.json`;
    await Deno.writeTextFile(path, JSON.stringify(g, null, 2));
    assertEquals(hex(runIdOf(await readGenesisFile(path))), hex(runIdOf(g)));
    await rejects(
      () => readGenesisFile(`${dir}/none.json`),
      `${dir}/none.json: no such genesis file`,
    );
    await rejects(() => readGenesisFile(dir), `${dir}: not a regular file`);
    await Deno.writeFile(`${dir}/bin.json`, new Uint8Array([0x7b, 0xff, 0x7d]));
    await rejects(() => readGenesisFile(`${dir}/bin.json`), `${dir}/bin.json: not UTF-8 text`);
    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify({ ...g, windowMs: 0 }));
    await rejects(
      () => readGenesisFile(`${dir}/bad.json`),
      `${dir}/bad.json: windowMs must be an integer in [100, 86400000], got 0`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readGenesisRef reads files beside the genesis and checks their SHA-256", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = new TextEncoder().encode('{"model":{}}');
    await Deno.writeFile(`${dir}/tok.json`, data);
    const path = `${dir}/genesis.json`;
    const sha256 = hex(sha256Sync(data));
    assertEquals(await readGenesisRef(path, "tokenizer", { path: "tok.json", sha256 }), data);
    await rejects(
      () => readGenesisRef(path, "tokenizer", { path: "tok.json", sha256: "00".repeat(32) }),
      `${path}: tokenizer.path "tok.json": SHA-256 is ${sha256}, the genesis says ${
        "00".repeat(32)
      }`,
    );
    await rejects(
      () => readGenesisRef(path, "data.corpus[0]", { path: "gone.txt", sha256 }),
      `${path}: data.corpus[0].path "gone.txt": cannot read ${dir}/gone.txt (no such file)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readGenesisRef falls back to the downloaded copy and checks a declared length", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = new TextEncoder().encode("corpus text\n");
    const sha256 = hex(sha256Sync(data));
    await Deno.mkdir(`${dir}/content`);
    await Deno.writeFile(`${dir}/content/${sha256}`, data);
    const path = `${dir}/genesis.json`;
    const ref = { path: "shard.txt", sha256, bytes: data.length };
    assertEquals(await readGenesisRef(path, "data.corpus[0]", ref, `${dir}/content`), data);
    await rejects(
      () => readGenesisRef(path, "data.corpus[0]", ref),
      `${path}: data.corpus[0].path "shard.txt": cannot read ${dir}/shard.txt (no such file)`,
    );
    await Deno.writeFile(`${dir}/shard.txt`, data);
    await rejects(
      () => readGenesisRef(path, "data.corpus[0]", { ...ref, bytes: 3 }),
      `${path}: data.corpus[0].path "shard.txt": 12 bytes, the genesis says 3`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
