import { assert, assertEquals } from "../testing/assert.ts";
import { writeFileAtomic } from "./atomic_write.ts";

const posix = Deno.build.os !== "windows";

async function withDir(fn: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempDir({ prefix: "webloco-atomic-" });
  try {
    await fn(path);
  } finally {
    await Deno.remove(path, { recursive: true });
  }
}

function names(path: string): string[] {
  return [...Deno.readDirSync(path)].map((e) => e.name).sort();
}

Deno.test("writeFileAtomic replaces a file whole and leaves no temporary file", () =>
  withDir(async (path) => {
    await writeFileAtomic(`${path}/a`, "one");
    await writeFileAtomic(`${path}/a`, Uint8Array.of(1, 2, 3));
    assertEquals(await Deno.readFile(`${path}/a`), Uint8Array.of(1, 2, 3));
    assertEquals(names(path), ["a"]);
  }));

Deno.test("writeFileAtomic createNew refuses an existing file and keeps it", () =>
  withDir(async (path) => {
    await writeFileAtomic(`${path}/k`, "first", { createNew: true, sync: true });
    let error: unknown;
    try {
      await writeFileAtomic(`${path}/k`, "second", { createNew: true });
    } catch (e) {
      error = e;
    }
    assert(error instanceof Deno.errors.AlreadyExists, `expected AlreadyExists, got ${error}`);
    assertEquals(await Deno.readTextFile(`${path}/k`), "first");
    assertEquals(names(path), ["k"]);
  }));

Deno.test("writeFileAtomic mode sets the permission bits", () =>
  withDir(async (path) => {
    await writeFileAtomic(`${path}/secret`, "s", { mode: 0o600 });
    await writeFileAtomic(`${path}/new-secret`, "s", { mode: 0o600, createNew: true });
    if (posix) {
      assertEquals((await Deno.stat(`${path}/secret`)).mode! & 0o777, 0o600);
      assertEquals((await Deno.stat(`${path}/new-secret`)).mode! & 0o777, 0o600);
    }
  }));

Deno.test("writeFileAtomic into a missing folder fails with NotFound", () =>
  withDir(async (path) => {
    let error: unknown;
    try {
      await writeFileAtomic(`${path}/no/such`, "x");
    } catch (e) {
      error = e;
    }
    assert(error instanceof Deno.errors.NotFound, `expected NotFound, got ${error}`);
    assertEquals(names(path), []);
  }));

Deno.test({
  name: "writeFileAtomic sync flushes the file and then its folder",
  ignore: !posix,
  fn: () =>
    withDir(async (path) => {
      const synced: string[] = [];
      const proto = Deno.FsFile.prototype;
      const sync = proto.sync;
      proto.sync = async function (this: Deno.FsFile) {
        synced.push((await this.stat()).isDirectory ? "folder" : "file");
        return sync.call(this);
      };
      try {
        await writeFileAtomic(`${path}/v`, "vote", { sync: true });
        assertEquals(synced, ["file", "folder"]);
        synced.length = 0;
        await writeFileAtomic(`${path}/w`, "plain");
        assertEquals(synced, [], "no flush unless asked");
      } finally {
        proto.sync = sync;
      }
      assertEquals(await Deno.readTextFile(`${path}/v`), "vote");
    }),
});
