import { assert, assertEquals } from "../testing/assert.ts";
import { Rng } from "../util/rng.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { modelHash } from "../codec/model_hash.ts";
import { initialParams, type RunContext, runContext } from "../protocol/run_context.ts";
import { type SavedState, StateDir, StateError } from "./state_dir.ts";

await identityReady();

const GENESIS_TIME = 1_700_000_000_000;
const alice = KeySigner.fromUri("//Alice");
const ctx = runContext(localGenesis({ validators: [alice.address], genesisTime: GENESIS_TIME }));
const otherCtx = runContext(
  localGenesis({ validators: [alice.address], genesisTime: GENESIS_TIME, name: "other" }),
);
const posix = Deno.build.os !== "windows";

/** θ₀ moved by seeded noise (so the state is not just the initial model). */
function paramsOf(seed: number): Float32Array {
  const p = Float32Array.from(initialParams(ctx));
  const noise = new Rng(seed).normals(p.length, 1e-2);
  for (const e of ctx.layout.entries) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    for (let i = e.offset; i < e.offset + n; i++) p[i] += noise[i];
  }
  return p;
}

function peerState(seed: number, applied: number, lastTrained: number): SavedState {
  return {
    applied,
    lastTrained,
    params: paramsOf(seed),
    error: new Rng(seed + 1).normals(ctx.layout.length, 1e-3),
  };
}

async function save(dir: StateDir, s: SavedState, c: RunContext = ctx): Promise<void> {
  await dir.save(c, s, await modelHash(s.params));
}

async function withDir(fn: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempDir({ prefix: "webloco-state-" });
  try {
    await fn(path);
  } finally {
    await Deno.remove(path, { recursive: true });
  }
}

async function loadRejects(dir: StateDir, c: RunContext, includes: string[]): Promise<StateError> {
  try {
    await dir.load(c);
  } catch (e) {
    assert(e instanceof StateError, `expected StateError, got ${e}`);
    for (const s of includes) {
      assert(e.message.includes(s), `expected "${s}" in "${e.message}"`);
    }
    return e;
  }
  throw new Error("expected StateError, load succeeded");
}

async function stateFiles(path: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(path)) {
    if (/^state-\d+\.safetensors$/.test(e.name)) names.push(e.name);
  }
  return names.sort();
}

async function pointerFile(path: string): Promise<string> {
  return JSON.parse(await Deno.readTextFile(`${path}/state.json`)).file;
}

Deno.test("StateDir load returns null when nothing was saved", () =>
  withDir(async (path) => {
    const dir = await StateDir.open(`${path}/data`);
    assertEquals(await dir.load(ctx), null);
    assertEquals(dir.recordsDir, `${path}/data/records`);
    assertEquals(dir.checkpointsDir, `${path}/data/checkpoints`);
  }));

Deno.test("StateDir save and load round-trip bit-exactly", () =>
  withDir(async (path) => {
    const dir = await StateDir.open(path);
    const s = peerState(1, 4, 5);
    await save(dir, s);
    const again = await StateDir.open(path);
    const got = await again.load(ctx);
    assert(got !== null, "a state");
    assertEquals(got.applied, 4);
    assertEquals(got.lastTrained, 5);
    assertEquals(got.params, s.params);
    assertEquals(got.error, s.error);
    // A validator's state has no error-feedback buffer; θ₀ with nothing applied.
    const theta0 = initialParams(ctx);
    await save(again, { applied: -1, lastTrained: -1, params: theta0 });
    const v = await (await StateDir.open(path)).load(ctx);
    assert(v !== null, "a state");
    assertEquals(v.applied, -1);
    assertEquals(v.lastTrained, -1);
    assertEquals(v.params, theta0);
    assertEquals(v.error, undefined);
  }));

Deno.test("StateDir save keeps only the newest state file", () =>
  withDir(async (path) => {
    const dir = await StateDir.open(path);
    await save(dir, peerState(1, 0, 0));
    const first = await stateFiles(path);
    assertEquals(first.length, 1);
    const s2 = peerState(2, 1, 1);
    await save(dir, s2);
    const second = await stateFiles(path);
    assertEquals(second.length, 1);
    assert(second[0] !== first[0], `a new file (${second[0]})`);
    assertEquals(await pointerFile(path), second[0]);
    // A reopened folder continues after the loaded file and still keeps one.
    const again = await StateDir.open(path);
    assertEquals((await again.load(ctx))?.params, s2.params);
    const s3 = peerState(3, 2, 2);
    await save(again, s3);
    const third = await stateFiles(path);
    assertEquals(third.length, 1);
    assert(third[0] !== second[0], `a new file (${third[0]})`);
    assertEquals((await again.load(ctx))?.params, s3.params);
    const left = [];
    for await (const e of Deno.readDir(path)) left.push(e.name);
    assertEquals(left.sort(), ["state.json", third[0]].sort());
  }));

Deno.test("StateDir load refuses a state file with a flipped byte", () =>
  withDir(async (path) => {
    const dir = await StateDir.open(path);
    await save(dir, peerState(1, 2, 3));
    const file = await pointerFile(path);
    const bytes = await Deno.readFile(`${path}/${file}`);
    // Into the first tensor's data: after the 8-byte header length and the JSON header.
    const headerBytes = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    bytes[8 + headerBytes + 41] ^= 0x04;
    await Deno.writeFile(`${path}/${file}`, bytes);
    const e = await loadRejects(await StateDir.open(path), ctx, [`${path}/${file}`, "corrupted"]);
    assert(!e.message.includes("\n"), "one line");
    // A truncated file too.
    await Deno.writeFile(`${path}/${file}`, bytes.subarray(0, bytes.length - 100));
    await loadRejects(await StateDir.open(path), ctx, [`${path}/${file}`]);
    // A missing one.
    await Deno.remove(`${path}/${file}`);
    await loadRejects(await StateDir.open(path), ctx, [`${path}/${file}`]);
  }));

Deno.test("StateDir load refuses a garbage pointer", () =>
  withDir(async (path) => {
    const dir = await StateDir.open(path);
    await save(dir, peerState(1, 2, 3));
    const pointer = JSON.parse(await Deno.readTextFile(`${path}/state.json`));
    const bad: [string, string][] = [
      ["{ not json", "not JSON"],
      ["", "not JSON"],
      ["null", "not a webloco state pointer"],
      ["[1, 2]", "not a webloco state pointer"],
      [JSON.stringify({ ...pointer, version: 2 }), "not a webloco state pointer"],
      [JSON.stringify({ ...pointer, file: "../../etc/passwd" }), "not a webloco state pointer"],
      [JSON.stringify({ ...pointer, applied: -2 }), "not a webloco state pointer"],
      [JSON.stringify({ ...pointer, applied: 1.5 }), "not a webloco state pointer"],
      [JSON.stringify({ ...pointer, modelHash: "00" }), "not a webloco state pointer"],
    ];
    for (const [text, why] of bad) {
      await Deno.writeTextFile(`${path}/state.json`, text);
      await loadRejects(dir, ctx, [`${path}/state.json`, why]);
    }
    // A well-formed pointer whose model hash is not the file's.
    await Deno.writeTextFile(
      `${path}/state.json`,
      JSON.stringify({ ...pointer, modelHash: "ab".repeat(32) }),
    );
    await loadRejects(dir, ctx, [`${path}/${pointer.file}`, "wrong model"]);
    // …or whose window is not the file's.
    await Deno.writeTextFile(`${path}/state.json`, JSON.stringify({ ...pointer, applied: 7 }));
    await loadRejects(dir, ctx, [`${path}/${pointer.file}`, "wrong window"]);
  }));

Deno.test("StateDir load refuses the state of another run", () =>
  withDir(async (path) => {
    assert(otherCtx.runIdHex !== ctx.runIdHex, "two runs");
    const dir = await StateDir.open(path);
    await save(dir, peerState(1, 2, 3), otherCtx);
    await loadRejects(dir, ctx, [path, "run", otherCtx.runIdHex.slice(0, 12)]);
    // It is still that run's state.
    assertEquals((await dir.load(otherCtx))?.applied, 2);
  }));

Deno.test("StateDir quarantine moves the pointer aside", () =>
  withDir(async (path) => {
    const dir = await StateDir.open(path);
    await save(dir, peerState(1, 2, 3));
    await Deno.writeTextFile(`${path}/state.json`, "garbage");
    await loadRejects(dir, ctx, ["state.json"]);
    const moved = await dir.quarantine();
    assert(moved.startsWith(`${path}/state.json.bad-`), moved);
    assertEquals(await Deno.readTextFile(moved), "garbage");
    assertEquals(await dir.load(ctx), null);
    // A new state saves and loads after it.
    const s = peerState(4, 5, 6);
    await save(dir, s);
    assertEquals((await dir.load(ctx))?.params, s.params);
  }));

Deno.test("StateDir libp2pKey is created once and kept private", () =>
  withDir(async (path) => {
    const dir = await StateDir.open(path);
    const a = await dir.libp2pKey();
    assertEquals(a.type, "Ed25519");
    const b = await dir.libp2pKey();
    const c = await (await StateDir.open(path)).libp2pKey();
    assertEquals(b.publicKey.raw, a.publicKey.raw);
    assertEquals(c.publicKey.raw, a.publicKey.raw);
    if (posix) assertEquals((await Deno.stat(`${path}/libp2p.key`)).mode! & 0o777, 0o600);
    // Another folder gets another key.
    await withDir(async (other) => {
      const d = await (await StateDir.open(other)).libp2pKey();
      assert(d.publicKey.raw.join() !== a.publicKey.raw.join(), "a new key");
    });
    // A damaged key file is an error, never silently replaced.
    await Deno.writeFile(`${path}/libp2p.key`, new Uint8Array([1, 2, 3]));
    let error: unknown;
    try {
      await dir.libp2pKey();
    } catch (e) {
      error = e;
    }
    assert(error instanceof StateError, `expected StateError, got ${error}`);
    assert(error.message.includes(`${path}/libp2p.key`), error.message);
  }));

Deno.test("StateDir open refuses a path that is a file", () =>
  withDir(async (path) => {
    await Deno.writeTextFile(`${path}/file`, "x");
    let error: unknown;
    try {
      await StateDir.open(`${path}/file`);
    } catch (e) {
      error = e;
    }
    assert(error instanceof StateError, `expected StateError, got ${error}`);
  }));

Deno.test("StateDir load refuses an error-feedback buffer that does not match its hash", () =>
  withDir(async (path) => {
    const dir = await StateDir.open(path);
    await save(dir, peerState(1, 2, 3));
    const file = await pointerFile(path);
    const bytes = await Deno.readFile(`${path}/${file}`);
    // The error tensor is written last: flip a byte near the end of the file.
    bytes[bytes.length - 9] ^= 0x10;
    await Deno.writeFile(`${path}/${file}`, bytes);
    await loadRejects(await StateDir.open(path), ctx, [`${path}/${file}`, "error-feedback"]);
  }));

Deno.test("StateDir quarantine keeps the state file it pointed to", () =>
  withDir(async (path) => {
    const dir = await StateDir.open(path);
    await save(dir, peerState(1, 2, 3));
    const file = await pointerFile(path);
    const moved = await dir.quarantine();
    const suffix = moved.slice(moved.lastIndexOf(".bad-"));
    await save(dir, peerState(4, 5, 6));
    assert((await Deno.stat(`${path}/${file}${suffix}`)).isFile, "the old state file is kept");
  }));
