/**
 * A data directory survives the two ways a state write dies: the process SIGKILLed in the
 * middle of it (a child saving in a loop, killed at seeded random times, then the state
 * loaded), and a full disk (a 64 KiB tmpfs made and unmounted by the test: the save fails
 * with "disk full while saving …" and the previous state still loads).
 */

import { assert, assertEquals } from "./assert.ts";
import { FileStore } from "../cli/file_store.ts";
import { modelHash } from "../codec/model_hash.ts";
import { StateError } from "../protocol/state_store.ts";
import { RoleState } from "../roles/role_state.ts";
import { Rng } from "../util/rng.ts";
import { smallContext, smallParams } from "./fuzz_targets_files.ts";
import { writerContext } from "./soak_state_writer.ts";

const WRITER = new URL("./soak_state_writer.ts", import.meta.url).pathname;

/** Starts the writer on `dir`, kills it `delayMs` after its first save; the last save it printed. */
async function writeThenKill(dir: string, delayMs: number): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WRITER, dir],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let killed = false;
  const watchdog = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, 60_000);
  try {
    while (!text.includes("saved ")) {
      const r = await lines.read();
      if (r.done) break;
      text += r.value;
    }
    await new Promise((r) => setTimeout(r, delayMs));
    child.kill("SIGKILL");
    for (let r = await lines.read(); !r.done; r = await lines.read()) text += r.value;
  } finally {
    clearTimeout(watchdog);
    const status = await child.status;
    const err = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    assert(!killed, `the writer printed no save within 60 s: ${err}`);
    assertEquals(status.signal, "SIGKILL", `the writer ended by itself: ${err}`);
  }
  const saves = [...text.matchAll(/saved (\d+)\n/g)].map((m) => Number(m[1]));
  assert(saves.length > 0, `no complete save line in ${JSON.stringify(text.slice(-200))}`);
  return saves[saves.length - 1];
}

Deno.test("state writes SIGKILLed at random times leave a loadable data dir", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webloco-kill-" });
  const ctx = writerContext();
  const rng = new Rng(20261201);
  try {
    let previous = -1;
    for (let kill = 0; kill < 4; kill++) {
      const last = await writeThenKill(dir, rng.int(400));
      // Loads (no StateError), and is the last save printed or the one in flight.
      const s = await new RoleState(await FileStore.open(dir)).load(ctx);
      assert(s !== null, "no state after a kill");
      assert(s.applied === last || s.applied === last + 1, `loaded ${s.applied}, printed ${last}`);
      assert(s.applied > previous, `kill ${kill}: resumed at ${s.applied}, before ${previous}`);
      assertEquals(s.params[ctx.tensors[0].offset], s.applied);
      assertEquals(s.error![0], -s.applied);
      previous = s.applied;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Mounts a tmpfs of `bytes` on a new folder; null (and a printed reason) where it cannot. */
async function tinyDisk(bytes: number): Promise<string | null> {
  const dir = await Deno.makeTempDir({ prefix: "webloco-full-" });
  const out = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir],
    stdout: "null",
    stderr: "piped",
  }).output().catch((e) => ({ success: false, stderr: new TextEncoder().encode(String(e)) }));
  if (out.success) return dir;
  await Deno.remove(dir);
  console.log(
    `skipped: cannot mount a tmpfs (${new TextDecoder().decode(out.stderr).trim()}); needs root`,
  );
  return null;
}

Deno.test("a state save on a full disk fails clearly and keeps the previous state", async () => {
  const dir = await tinyDisk(64 * 1024);
  if (dir === null) return;
  const ctx = smallContext();
  try {
    const state = new RoleState(await FileStore.open(`${dir}/data`));
    const first = { applied: 3, lastTrained: 3, params: smallParams(1), error: smallParams(2) };
    await state.save(ctx, first, await modelHash(first.params));
    // Fill the disk.
    for (let i = 0;; i++) {
      try {
        await Deno.writeFile(`${dir}/filler-${i}`, new Uint8Array(4096));
      } catch {
        break;
      }
    }
    const next = { applied: 4, lastTrained: 4, params: smallParams(3), error: smallParams(4) };
    let err: unknown;
    try {
      await state.save(ctx, next, await modelHash(next.params));
    } catch (e) {
      err = e;
    }
    assert(err instanceof StateError, `expected a StateError, got ${err}`);
    assert(/^disk full while saving .*data\/state-\d+\.safetensors/.test(err.message), err.message);
    assert(err.message.includes("the previous version is kept"), err.message);
    const names = [...Deno.readDirSync(`${dir}/data`)].map((e) => e.name).sort();
    assertEquals(names, ["state-1.safetensors", "state.json"], "no temporary file is left");
    const loaded = await new RoleState(await FileStore.open(`${dir}/data`)).load(ctx);
    assertEquals(loaded?.applied, 3);
    assertEquals(loaded?.params, first.params);
    // Space again: the next save goes through.
    for (const e of Deno.readDirSync(dir)) {
      if (e.name.startsWith("filler-")) Deno.removeSync(`${dir}/${e.name}`);
    }
    await state.save(ctx, next, await modelHash(next.params));
    assertEquals((await new RoleState(await FileStore.open(`${dir}/data`)).load(ctx))?.applied, 4);
  } finally {
    await new Deno.Command("umount", { args: [dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
});
