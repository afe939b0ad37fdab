import { assert, assertEquals } from "../testing/assert.ts";
import { Rng } from "../util/rng.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { modelHash } from "../codec/model_hash.ts";
import { initialParams, type RunContext, runContext } from "../protocol/run_context.ts";
import { StateError, type StateStore } from "../protocol/state_store.ts";
import { STORE_KINDS } from "../testing/stores.ts";
import { RoleState, type SavedState } from "./role_state.ts";

await identityReady();

const GENESIS_TIME = 1_700_000_000_000;
const alice = KeySigner.fromUri("//Alice");
const ctx = runContext(localGenesis({ validators: [alice.address], genesisTime: GENESIS_TIME }));
const otherCtx = runContext(
  localGenesis({ validators: [alice.address], genesisTime: GENESIS_TIME, name: "other" }),
);
const text = (s: string) => new TextEncoder().encode(s);

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

async function save(state: RoleState, s: SavedState, c: RunContext = ctx): Promise<void> {
  await state.save(c, s, await modelHash(s.params));
}

async function loadRejects(
  state: RoleState,
  c: RunContext,
  includes: string[],
): Promise<StateError> {
  try {
    await state.load(c);
  } catch (e) {
    assert(e instanceof StateError, `expected StateError, got ${e}`);
    for (const s of includes) {
      assert(e.message.includes(s), `expected "${s}" in "${e.message}"`);
    }
    return e;
  }
  throw new Error("expected StateError, load succeeded");
}

async function stateBlobs(store: StateStore): Promise<string[]> {
  return (await store.list()).filter((n) => /^state-\d+\.safetensors$/.test(n)).sort();
}

async function pointerOf(store: StateStore): Promise<Record<string, unknown>> {
  return JSON.parse(new TextDecoder().decode((await store.get("state.json"))!));
}

async function pointerFile(store: StateStore): Promise<string> {
  return (await pointerOf(store)).file as string;
}

for (const kind of STORE_KINDS) {
  const test = (name: string, fn: (store: StateStore) => Promise<void>) =>
    Deno.test(`RoleState (${kind.name}) ${name}`, () => kind.with(fn));

  test("load returns null when nothing was saved", async (store) => {
    assertEquals(await new RoleState(store).load(ctx), null);
    assertEquals(await store.list(), []);
  });

  test("save and load round-trip bit-exactly", async (store) => {
    const s = peerState(1, 4, 5);
    await save(new RoleState(store), s);
    const again = new RoleState(store);
    const got = await again.load(ctx);
    assert(got !== null, "a state");
    assertEquals(got.applied, 4);
    assertEquals(got.lastTrained, 5);
    assertEquals(got.params, s.params);
    assertEquals(got.error, s.error);
    // A validator's state has no error-feedback buffer; θ₀ with nothing applied.
    const theta0 = initialParams(ctx);
    await save(again, { applied: -1, lastTrained: -1, params: theta0 });
    const v = await new RoleState(store).load(ctx);
    assert(v !== null, "a state");
    assertEquals(v.applied, -1);
    assertEquals(v.lastTrained, -1);
    assertEquals(v.params, theta0);
    assertEquals(v.error, undefined);
  });

  test("save keeps only the newest state blob", async (store) => {
    const state = new RoleState(store);
    await save(state, peerState(1, 0, 0));
    const first = await stateBlobs(store);
    assertEquals(first.length, 1);
    const s2 = peerState(2, 1, 1);
    await save(state, s2);
    const second = await stateBlobs(store);
    assertEquals(second.length, 1);
    assert(second[0] !== first[0], `a new blob (${second[0]})`);
    assertEquals(await pointerFile(store), second[0]);
    // A reopened state continues after the loaded blob and still keeps one.
    const again = new RoleState(store);
    assertEquals((await again.load(ctx))?.params, s2.params);
    const s3 = peerState(3, 2, 2);
    await save(again, s3);
    const third = await stateBlobs(store);
    assertEquals(third.length, 1);
    assert(third[0] !== second[0], `a new blob (${third[0]})`);
    assertEquals((await again.load(ctx))?.params, s3.params);
    assertEquals((await store.list()).sort(), ["state.json", third[0]].sort());
  });

  test("load refuses a state blob with a flipped byte", async (store) => {
    await save(new RoleState(store), peerState(1, 2, 3));
    const file = await pointerFile(store);
    const where = `${store.where}/${file}`;
    const bytes = (await store.get(file))!;
    // Into the first tensor's data: after the 8-byte header length and the JSON header.
    const headerBytes = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    bytes[8 + headerBytes + 41] ^= 0x04;
    await store.put(file, bytes);
    const e = await loadRejects(new RoleState(store), ctx, [where, "corrupted"]);
    assert(!e.message.includes("\n"), "one line");
    // A truncated blob too.
    await store.put(file, bytes.subarray(0, bytes.length - 100));
    await loadRejects(new RoleState(store), ctx, [where]);
    // A missing one.
    await store.delete(file);
    await loadRejects(new RoleState(store), ctx, [where]);
  });

  test("load refuses a garbage pointer", async (store) => {
    const state = new RoleState(store);
    await save(state, peerState(1, 2, 3));
    const pointer = await pointerOf(store);
    const where = `${store.where}/state.json`;
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
    for (const [t, why] of bad) {
      await store.put("state.json", text(t));
      await loadRejects(state, ctx, [where, why]);
    }
    // A well-formed pointer whose model hash is not the blob's.
    await store.put("state.json", text(JSON.stringify({ ...pointer, modelHash: "ab".repeat(32) })));
    await loadRejects(state, ctx, [`${store.where}/${pointer.file}`, "wrong model"]);
    // …or whose window is not the blob's.
    await store.put("state.json", text(JSON.stringify({ ...pointer, applied: 7 })));
    await loadRejects(state, ctx, [`${store.where}/${pointer.file}`, "wrong window"]);
  });

  test("load refuses the state of another run", async (store) => {
    assert(otherCtx.runIdHex !== ctx.runIdHex, "two runs");
    const state = new RoleState(store);
    await save(state, peerState(1, 2, 3), otherCtx);
    await loadRejects(state, ctx, [store.where, "run", otherCtx.runIdHex.slice(0, 12)]);
    // It is still that run's state.
    assertEquals((await state.load(otherCtx))?.applied, 2);
  });

  test("quarantine moves the pointer aside", async (store) => {
    const state = new RoleState(store);
    await save(state, peerState(1, 2, 3));
    await store.put("state.json", text("garbage"));
    await loadRejects(state, ctx, ["state.json"]);
    const moved = await state.quarantine();
    assert(moved.startsWith(`${store.where}/state.json.bad-`), moved);
    const name = moved.slice(store.where.length + 1);
    assertEquals(new TextDecoder().decode((await store.get(name))!), "garbage");
    assertEquals(await state.load(ctx), null);
    // A new state saves and loads after it.
    const s = peerState(4, 5, 6);
    await save(state, s);
    assertEquals((await state.load(ctx))?.params, s.params);
  });

  test("load refuses an error-feedback buffer that does not match its hash", async (store) => {
    await save(new RoleState(store), peerState(1, 2, 3));
    const file = await pointerFile(store);
    const bytes = (await store.get(file))!;
    // The error tensor is written last: flip a byte near the end of the blob.
    bytes[bytes.length - 9] ^= 0x10;
    await store.put(file, bytes);
    await loadRejects(new RoleState(store), ctx, [`${store.where}/${file}`, "error-feedback"]);
  });

  test("quarantine keeps the state blob it pointed to", async (store) => {
    const state = new RoleState(store);
    await save(state, peerState(1, 2, 3));
    const file = await pointerFile(store);
    const moved = await state.quarantine();
    const suffix = moved.slice(moved.lastIndexOf(".bad-"));
    await save(state, peerState(4, 5, 6));
    assert((await store.get(`${file}${suffix}`)) !== null, "the old state blob is kept");
  });
}
