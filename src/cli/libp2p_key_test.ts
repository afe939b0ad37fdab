import { assert, assertEquals } from "../testing/assert.ts";
import { StateError } from "../protocol/state_store.ts";
import { libp2pKeyFile } from "./libp2p_key.ts";

const posix = Deno.build.os !== "windows";

async function withDir(fn: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempDir({ prefix: "webloco-key-" });
  try {
    await fn(path);
  } finally {
    await Deno.remove(path, { recursive: true });
  }
}

Deno.test("libp2pKeyFile is created once and kept private", () =>
  withDir(async (path) => {
    const file = `${path}/libp2p.key`;
    const a = await libp2pKeyFile(file);
    assertEquals(a.type, "Ed25519");
    const b = await libp2pKeyFile(file);
    assertEquals(b.publicKey.raw, a.publicKey.raw);
    if (posix) assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600);
    assertEquals([...Deno.readDirSync(path)].map((e) => e.name), ["libp2p.key"]);
    // Another folder gets another key.
    await withDir(async (other) => {
      const d = await libp2pKeyFile(`${other}/libp2p.key`);
      assert(d.publicKey.raw.join() !== a.publicKey.raw.join(), "a new key");
    });
    // A damaged key file is an error, never silently replaced.
    await Deno.writeFile(file, new Uint8Array([1, 2, 3]));
    let error: unknown;
    try {
      await libp2pKeyFile(file);
    } catch (e) {
      error = e;
    }
    assert(error instanceof StateError, `expected StateError, got ${error}`);
    assert(error.message.includes(file), error.message);
    assertEquals(await Deno.readFile(file), new Uint8Array([1, 2, 3]));
  }));
