import { assert, assertEquals } from "../testing/assert.ts";
import { KeyFileError, parseKeyFile, readKeyFile, writeKeyFile } from "./key_file.ts";
import { KeySigner } from "./key_signer.ts";
import { identityReady, verify } from "./signer.ts";

await identityReady();

const DEV_PHRASE = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
const DEV_ADDRESS = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";
const posix = Deno.build.os !== "windows";

async function assertRejects(fn: () => Promise<unknown>, includes: string): Promise<KeyFileError> {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof KeyFileError, `expected KeyFileError, got ${e}`);
    assert(e.message.includes(includes), `expected "${includes}" in "${e.message}"`);
    assert(!e.message.includes("\n"), "one line");
    return e;
  }
  throw new Error(`expected KeyFileError with "${includes}", nothing was thrown`);
}

function assertParseFails(text: string, includes: string): void {
  try {
    parseKeyFile(text, "k.json");
  } catch (e) {
    assert(e instanceof KeyFileError, `expected KeyFileError, got ${e}`);
    assert(e.message.startsWith("k.json: "), e.message);
    assert(e.message.includes(includes), `expected "${includes}" in "${e.message}"`);
    assert(!e.message.includes("bottom drive"), "the mnemonic must not leak into errors");
    return;
  }
  throw new Error(`expected KeyFileError with "${includes}"`);
}

Deno.test("writeKeyFile writes an owner-only file that readKeyFile reads back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/key.json`;
    const written = await writeKeyFile(path, { mnemonic: DEV_PHRASE });
    assertEquals(written.address, DEV_ADDRESS);
    if (posix) assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    const json = JSON.parse(await Deno.readTextFile(path));
    assertEquals(json, { version: 1, type: "sr25519", address: DEV_ADDRESS, mnemonic: DEV_PHRASE });
    const read = await readKeyFile(path);
    assertEquals(read.address, DEV_ADDRESS);
    const msg = new Uint8Array([9, 9, 9]);
    assert(verify(msg, await read.sign(msg), written.publicKey));
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["key.json"]); // no temp file left
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeKeyFile stores a seed and keeps the SS58 format", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/seed.json`;
    const seed = new Uint8Array(32).fill(0xab);
    const w = await writeKeyFile(path, { seed }, 0);
    assertEquals(w.address, KeySigner.fromSeed(seed, 0).address);
    const json = JSON.parse(await Deno.readTextFile(path));
    assertEquals(json.seed, "0x" + "ab".repeat(32));
    assertEquals((await readKeyFile(path)).address, w.address);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeKeyFile refuses to overwrite an existing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/key.json`;
    await Deno.writeTextFile(path, "precious");
    await assertRejects(
      () => writeKeyFile(path, { mnemonic: DEV_PHRASE }),
      "refusing to overwrite",
    );
    assertEquals(await Deno.readTextFile(path), "precious");
    assertEquals([...Deno.readDirSync(dir)].length, 1);
    await assertRejects(
      () => writeKeyFile(`${dir}/no/such/dir/k.json`, { mnemonic: DEV_PHRASE }),
      "folder does not exist",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readKeyFile gives one-line errors for missing, open and malformed files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(
      () => readKeyFile(`${dir}/missing.json`),
      "no such key file (create one with: deno task keygen",
    );
    await assertRejects(() => readKeyFile(dir), "not a regular file");
    const bad = `${dir}/bad.json`;
    await Deno.writeTextFile(bad, "{not json", { mode: 0o600 });
    if (posix) await Deno.chmod(bad, 0o600);
    await assertRejects(() => readKeyFile(bad), "not valid JSON");
    if (posix) {
      const open = `${dir}/open.json`;
      await writeKeyFile(open, { mnemonic: DEV_PHRASE });
      await Deno.chmod(open, 0o644);
      await assertRejects(
        () => readKeyFile(open),
        "permissions 0644 let others access the key; run: chmod 600",
      );
      await Deno.chmod(open, 0o620);
      await assertRejects(() => readKeyFile(open), "permissions 0620");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseKeyFile names the wrong field", () => {
  const good = { version: 1, type: "sr25519", address: DEV_ADDRESS, mnemonic: DEV_PHRASE };
  const text = (o: Record<string, unknown>) => JSON.stringify(o);
  assertEquals(parseKeyFile(text(good), "k.json").address, DEV_ADDRESS);
  assertParseFails("[]", "expected a JSON object");
  assertParseFails(text({ ...good, extra: 1 }), `unknown field "extra"`);
  assertParseFails(text({ ...good, version: 2 }), "version must be 1, got 2");
  assertParseFails(text({ ...good, type: "ed25519" }), `type must be "sr25519"`);
  assertParseFails(text({ ...good, address: 5 }), "address must be an SS58 address");
  assertParseFails(text({ ...good, address: "5Grw" }), "is not a valid SS58 address");
  assertParseFails(text({ version: 1, type: "sr25519", address: DEV_ADDRESS }), "exactly one of");
  assertParseFails(text({ ...good, seed: "0x" + "00".repeat(32) }), "exactly one of");
  assertParseFails(
    text({ ...good, mnemonic: DEV_PHRASE.replace("walk", "fit") }),
    "not a valid BIP-39 mnemonic",
  );
  assertParseFails(
    text({ version: 1, type: "sr25519", address: DEV_ADDRESS, seed: "0x1234" }),
    "seed must be 0x followed by 64 hex digits",
  );
  assertParseFails(
    text({ ...good, address: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY" }),
    "does not match the key's address",
  );
});
