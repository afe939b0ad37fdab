import { assert, assertEquals } from "../testing/assert.ts";
import { StateError } from "../protocol/state_store.ts";
import { FileStore } from "./file_store.ts";

async function withDir(fn: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempDir({ prefix: "webloco-files-" });
  try {
    await fn(path);
  } finally {
    await Deno.remove(path, { recursive: true });
  }
}

async function namesIn(path: string): Promise<string[]> {
  const names = [];
  for await (const e of Deno.readDir(path)) names.push(e.isDirectory ? `${e.name}/` : e.name);
  return names.sort();
}

Deno.test("FileStore keeps blobs as files and sub-stores as folders of a data directory", () =>
  withDir(async (path) => {
    const store = await FileStore.open(`${path}/data`);
    assertEquals(store.where, `${path}/data`);
    await store.put("state.json", new TextEncoder().encode("{}"));
    await store.sub("records").put("0000000003.msg", Uint8Array.of(3));
    await store.sub("checkpoints").put("0000000004.safetensors", Uint8Array.of(4));
    assertEquals(await namesIn(`${path}/data`), ["checkpoints/", "records/", "state.json"]);
    assertEquals(await Deno.readTextFile(`${path}/data/state.json`), "{}");
    assertEquals(await Deno.readFile(`${path}/data/records/0000000003.msg`), Uint8Array.of(3));
    assertEquals(store.sub("records").where, `${path}/data/records`);
    // Folders are not blobs; temporary files of the atomic writes are gone.
    assertEquals(await store.list(), ["state.json"]);
    const moved = await store.sub("records").quarantine("0000000003.msg", 7);
    assertEquals(await namesIn(`${path}/data/records`), [moved]);
    assertEquals(moved, "0000000003.msg.bad-7");
  }));

Deno.test("FileStore open creates missing folders and refuses a path that is a file", () =>
  withDir(async (path) => {
    await FileStore.open(`${path}/a/b`);
    assert((await Deno.stat(`${path}/a/b`)).isDirectory, "created");
    await Deno.writeTextFile(`${path}/file`, "x");
    let error: unknown;
    try {
      await FileStore.open(`${path}/file`);
    } catch (e) {
      error = e;
    }
    assert(error instanceof StateError, `expected StateError, got ${error}`);
    assert(error.message.includes(`${path}/file`), error.message);
  }));
