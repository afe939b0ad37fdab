import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { encodeUpdate } from "../codec/update_codec.ts";
import { Rng } from "../util/rng.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import type { CompressOptions, QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { compressModel } from "../reference/sparseloco/compress_model.ts";
import { localGenesis } from "./local_genesis.ts";
import { decodeMessage, type RoundRecord, signMessage } from "../codec/messages.ts";
import {
  ChainError,
  type ChainErrorCode,
  type ContributionBytes,
  ModelChain,
} from "./model_chain.ts";
import { initialParams, runContext } from "./run_context.ts";

await identityReady();

const GENESIS_TIME = 1_700_000_000_000;
const alice = KeySigner.fromUri("//Alice");
const ctx = runContext(localGenesis({ validators: [alice.address], genesisTime: GENESIS_TIME }));
const otherCtx = runContext(
  localGenesis({ validators: [alice.address], genesisTime: GENESIS_TIME, name: "other" }),
);
const theta0 = initialParams(ctx);
const peers = ["//Bob", "//Charlie", "//Dave"].map((u) => KeySigner.fromUri(u).address);

/** One peer's encoded update: a seeded random pseudo-gradient, compressed as a peer does. */
function makeUpdate(
  seed: number,
  window: number,
  modelHash: Uint8Array,
  o: { runId?: Uint8Array; compress?: Partial<CompressOptions> } = {},
): Uint8Array {
  const delta = new Rng(seed).normals(ctx.layout.length, 1e-3);
  const error = new Float32Array(ctx.layout.length);
  const tensors = compressModel(delta, error, ctx.tensors, {
    ...ctx.compress,
    ...o.compress,
  }) as QuantizedTensor[];
  return encodeUpdate({
    indexMode: ctx.indexMode,
    runId: o.runId ?? ctx.runId,
    window,
    modelHash,
    tensors: tensors.map((t, id) => ({ ...t, id })),
  });
}

/** The three peers' updates for `window`, trained from `modelHash`. */
function contributions(window: number, modelHash: Uint8Array): ContributionBytes[] {
  return peers.map((address, i) => ({
    address,
    bytes: makeUpdate(100 + 7 * window + i, window, modelHash),
  }));
}

/** A fetcher over the given payloads (by SHA-256), counting calls. */
async function fetcherOf(payloads: Uint8Array[]): Promise<(h: string) => Promise<Uint8Array>> {
  const byHash = new Map<string, Uint8Array>();
  for (const p of payloads) byHash.set(hex(await sha256(p)), p);
  return (h) => {
    const p = byHash.get(h);
    return p === undefined ? Promise.reject(new Error(`no payload ${h}`)) : Promise.resolve(p);
  };
}

/** The round record of `window` selecting `cs`, its next-model hash given. */
async function recordOf(
  window: number,
  modelHash: Uint8Array,
  nextModelHash: Uint8Array,
  cs: readonly ContributionBytes[],
): Promise<RoundRecord> {
  return {
    kind: "round-record",
    window,
    modelHash,
    nextModelHash,
    contributors: await Promise.all(
      cs.map(async (c) => ({ address: c.address, payloadHash: await sha256(c.bytes) })),
    ),
  };
}

async function rejects(fn: () => Promise<unknown>, code: ChainErrorCode): Promise<ChainError> {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof ChainError, `expected ChainError ${code}, got ${e}`);
    assertEquals(e.code, code, e.message);
    return e;
  }
  throw new Error(`expected ChainError ${code}, nothing was thrown`);
}

/** Asserts that the chain's head is still `params` with its hash and `applied`. */
async function assertHead(chain: ModelChain, params: Float32Array, applied: number) {
  const fresh = await ModelChain.at(ctx, params, applied);
  assertEquals(chain.hashHex, fresh.hashHex, "head hash");
  assertEquals(chain.applied, applied, "applied");
  assertEquals(chain.params, params, "head params");
}

const chain0 = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
const cs0 = contributions(0, chain0.hash);
const next0 = await chain0.next(0, cs0);

Deno.test("ModelChain.at rejects params of the wrong length", async () => {
  try {
    await ModelChain.at(ctx, new Float32Array(ctx.layout.length - 1), -1);
  } catch (e) {
    assert(e instanceof RangeError, `expected RangeError, got ${e}`);
    return;
  }
  throw new Error("expected RangeError");
});

Deno.test("ModelChain next is deterministic and independent of contribution order", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  const a = await chain.next(0, cs0);
  const b = await chain.next(0, [cs0[2], cs0[0], cs0[1]]);
  const c = await chain.next(0, [...cs0].reverse());
  assertEquals(hex(a.hash), hex(next0.hash));
  assertEquals(hex(b.hash), hex(a.hash));
  assertEquals(hex(c.hash), hex(a.hash));
  assertEquals(b.params, a.params);
  assert(hex(a.hash) !== chain.hashHex, "the model moved");
  let changed = 0;
  for (let i = 0; i < theta0.length; i++) if (a.params[i] !== theta0[i]) changed++;
  assert(changed > 0, "some parameters changed");
});

Deno.test("ModelChain next leaves the head unchanged", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  const before = chain.hashHex;
  const n = await chain.next(0, cs0);
  assert(n.params !== chain.params, "a new buffer");
  assertEquals(chain.hashHex, before);
  await assertHead(chain, theta0, -1);
});

Deno.test("ModelChain next with no contributions keeps the model", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  const n = await chain.next(0, []);
  assertEquals(hex(n.hash), chain.hashHex);
  assertEquals(n.params, theta0);
});

Deno.test("ModelChain commit moves the head and applied", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  const n = await chain.next(0, cs0);
  chain.commit(0, n);
  assertEquals(chain.applied, 0);
  assertEquals(chain.hashHex, hex(n.hash));
  assert(chain.params === n.params, "the head is the computed model");
  // A second window builds on the new head.
  const cs1 = contributions(1, chain.hash);
  const n1 = await chain.next(1, cs1);
  const e = assertThrows(() => chain.commit(0, n1), ChainError);
  assertEquals(e.code, "old-window");
  assertEquals(chain.applied, 0);
  assertEquals(chain.hashHex, hex(n.hash));
  chain.commit(1, n1);
  assertEquals(chain.applied, 1);
  assertEquals(chain.hashHex, hex(n1.hash));
});

Deno.test("ModelChain applyRecord applies a correct record", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  const record = await recordOf(0, chain.hash, next0.hash, cs0);
  await chain.applyRecord(record, await fetcherOf(cs0.map((c) => c.bytes)));
  assertEquals(chain.applied, 0);
  assertEquals(chain.hashHex, hex(next0.hash));
  assertEquals(chain.params, next0.params);
});

Deno.test("ModelChain applyRecord applies a signed and decoded record", async () => {
  // Decoding reorders contributors by key: the result must not change.
  const bytes = await signMessage(alice, {
    runId: ctx.runId,
    timestamp: GENESIS_TIME + ctx.genesis.windowMs,
    body: await recordOf(0, chain0.hash, next0.hash, cs0),
  });
  const m = decodeMessage(bytes);
  assert(m.ok && m.message.body.kind === "round-record", "decodes as a round record");
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  await chain.applyRecord(m.message.body, await fetcherOf(cs0.map((c) => c.bytes)));
  assertEquals(chain.hashHex, hex(next0.hash));
});

Deno.test("ModelChain applyRecord refuses a wrong next-model hash and keeps the head", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  const wrong = Uint8Array.from(next0.hash);
  wrong[0] ^= 1;
  const e = await rejects(
    async () =>
      chain.applyRecord(
        await recordOf(0, chain.hash, wrong, cs0),
        await fetcherOf(cs0.map((c) => c.bytes)),
      ),
    "hash-mismatch",
  );
  assert(e.message.includes("window 0"), e.message);
  await assertHead(chain, theta0, -1);
  // A record selecting only some of the updates does not reach the full round's hash either.
  await rejects(
    async () =>
      chain.applyRecord(
        await recordOf(0, chain.hash, next0.hash, cs0.slice(1)),
        await fetcherOf(cs0.map((c) => c.bytes)),
      ),
    "hash-mismatch",
  );
  await assertHead(chain, theta0, -1);
});

Deno.test("ModelChain applyRecord refuses a record from another model", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  const base = new Rng(5).uniforms(32, 0, 256);
  const other = Uint8Array.from(base, (x) => Math.floor(x));
  await rejects(
    async () =>
      chain.applyRecord(
        await recordOf(0, other, next0.hash, cs0),
        await fetcherOf(cs0.map((c) => c.bytes)),
      ),
    "wrong-base",
  );
  await assertHead(chain, theta0, -1);
});

Deno.test("ModelChain applyRecord refuses a window already applied", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), 3);
  const fetch = await fetcherOf(cs0.map((c) => c.bytes));
  for (const w of [0, 3]) {
    await rejects(
      async () => chain.applyRecord(await recordOf(w, chain.hash, next0.hash, cs0), fetch),
      "old-window",
    );
  }
  await assertHead(chain, theta0, 3);
});

Deno.test("ModelChain applyRecord refuses a payload that does not hash to the record's", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  const record = await recordOf(0, chain.hash, next0.hash, cs0);
  const honest = await fetcherOf(cs0.map((c) => c.bytes));
  const target = hex(record.contributors[1].payloadHash);
  const liar = (h: string) => h === target ? Promise.resolve(cs0[0].bytes) : honest(h);
  const e = await rejects(() => chain.applyRecord(record, liar), "payload-hash");
  assert(e.message.includes(record.contributors[1].address), e.message);
  await assertHead(chain, theta0, -1);
});

Deno.test("ModelChain applyRecord refuses an update that does not fit the round", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  const bad = [makeUpdate(9, 1, chain.hash), ...cs0.slice(1).map((c) => c.bytes)];
  const cs = bad.map((bytes, i) => ({ address: peers[i], bytes }));
  const e = await rejects(
    async () =>
      chain.applyRecord(await recordOf(0, chain.hash, next0.hash, cs), await fetcherOf(bad)),
    "bad-update",
  );
  assert(e.message.includes(peers[0]), e.message);
  await assertHead(chain, theta0, -1);
});

Deno.test("ModelChain next refuses updates for another window, run or model", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  const otherHash = Uint8Array.from(chain.hash);
  otherHash[31] ^= 0x80;
  const cases: [string, Uint8Array, string][] = [
    ["window", makeUpdate(11, 1, chain.hash), "window 1, expected 0"],
    ["run", makeUpdate(11, 0, chain.hash, { runId: otherCtx.runId }), "wrong run id"],
    ["model", makeUpdate(11, 0, otherHash), "wrong model hash"],
    ["truncated", cs0[0].bytes.subarray(0, cs0[0].bytes.length - 3), ""],
    ["empty", new Uint8Array(0), ""],
    ["garbage", Uint8Array.from(new Rng(3).uniforms(500, 0, 256), Math.floor), ""],
  ];
  for (const [what, bytes, why] of cases) {
    const e = await rejects(
      () => chain.next(0, [cs0[1], { address: peers[0], bytes }]),
      "bad-update",
    );
    assert(e.message.includes(peers[0]), `${what}: ${e.message}`);
    assert(e.message.includes(why), `${what}: expected "${why}" in "${e.message}"`);
    const direct = assertThrows(() => chain.checkUpdate(bytes, 0), ChainError, why);
    assertEquals(direct.code, "bad-update", what);
  }
  await assertHead(chain, theta0, -1);
});

Deno.test("ModelChain next refuses two contributions from one address", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  const e = await rejects(
    () => chain.next(0, [cs0[0], cs0[1], { address: cs0[0].address, bytes: cs0[2].bytes }]),
    "bad-update",
  );
  assert(e.message.includes(cs0[0].address), e.message);
  await assertHead(chain, theta0, -1);
});

Deno.test("ModelChain checkUpdate accepts the run's geometry and refuses another k or tiling", () => {
  const u = chain0.checkUpdate(cs0[0].bytes, 0);
  assertEquals(u.window, 0);
  assertEquals(u.tensors.length, ctx.tensors.length);
  const k = ctx.compress.k!;
  const maxSide = ctx.compress.maxSide!;
  const chunk = ctx.compress.chunk!;
  const cases: [Partial<CompressOptions>, string][] = [
    [{ k: k / 2 }, `k ${k / 2}, expected ${k}`],
    [{ k: k * 2 }, `k ${k * 2}, expected ${k}`],
    [{ maxSide: maxSide / 2 }, `tile ${maxSide / 2}×${maxSide / 2}`],
    [{ chunk: chunk / 2 }, `tile 1×${chunk / 2}`],
  ];
  for (const [compress, why] of cases) {
    const bytes = makeUpdate(21, 0, chain0.hash, { compress });
    const e = assertThrows(() => chain0.checkUpdate(bytes, 0), ChainError, why);
    assertEquals(e.code, "bad-update", JSON.stringify(compress));
  }
});

Deno.test("ModelChain reset replaces the head", async () => {
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  await chain.reset(Float32Array.from(next0.params), 7);
  await assertHead(chain, next0.params, 7);
  assertEquals(chain.hashHex, hex(next0.hash));
  // A record of window 8 on top of the new head applies.
  const cs8 = contributions(8, chain.hash);
  const n8 = await chain.next(8, cs8);
  await chain.applyRecord(
    await recordOf(8, chain.hash, n8.hash, cs8),
    await fetcherOf(cs8.map((c) => c.bytes)),
  );
  assertEquals(chain.applied, 8);
  assertEquals(chain.hashHex, hex(n8.hash));
  let thrown = false;
  try {
    await chain.reset(new Float32Array(3), 9);
  } catch (e) {
    thrown = e instanceof RangeError;
  }
  assert(thrown, "reset with a wrong length throws RangeError");
  assertEquals(chain.applied, 8);
});

// Outer delay 1 (genesis `rounds.outerDelay`): record w moves θ_{w+1} → θ_{w+2}, its updates
// were trained from θ_w.
const dctx = runContext(
  localGenesis({
    validators: [alice.address],
    genesisTime: GENESIS_TIME,
    rounds: { outerDelay: 1 },
  }),
);

/** The three peers' updates for `window` of the delayed run, trained from `modelHash`. */
function delayedContributions(window: number, modelHash: Uint8Array): ContributionBytes[] {
  return peers.map((address, i) => ({
    address,
    bytes: makeUpdate(100 + 7 * window + i, window, modelHash, { runId: dctx.runId }),
  }));
}

/**
 * Three windows of a delayed run as the validator makes them (scoring on the base, the record
 * moving the head) and their records; every window's updates from `baseHash(w)`.
 */
async function delayedRun() {
  const v = await ModelChain.at(dctx, Float32Array.from(theta0), -1);
  const records: { record: RoundRecord; cs: ContributionBytes[]; base: string }[] = [];
  for (let w = 0; w < 3; w++) {
    const base = v.baseHash(w)!;
    const cs = delayedContributions(w, base);
    const next = await v.next(w, cs);
    records.push({ record: await recordOf(w, v.hash, next.hash, cs), cs, base: hex(base) });
    v.commit(w, next);
  }
  return { v, records };
}

Deno.test("ModelChain outer delay: absent is 0, and the base of every window is the head", async () => {
  assertEquals(chain0.outerDelay, 0);
  const chain = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  chain.commit(0, next0);
  for (const w of [0, 1, 2, 5]) assertEquals(hex(chain.baseHash(w)!), chain.hashHex);
  assertEquals(chain.baseParams(1), chain.params);
  assert(
    runContext(localGenesis({ validators: [alice.address], genesisTime: GENESIS_TIME })).genesis
      .rounds === undefined,
  );
  assert(hex(dctx.runId) !== hex(ctx.runId), "the mode is part of the run id");
});

Deno.test("ModelChain outer delay 1: windows 0 and 1 train from θ₀, record w from θ_{w+1}", async () => {
  const { v, records } = await delayedRun();
  assertEquals(v.outerDelay, 1);
  const h0 = hex((await ModelChain.at(dctx, theta0, -1)).hash);
  // Start state: windows 0 and 1 are trained from θ₀; record 0 starts from θ₀ too (θ₁ = θ₀).
  assertEquals(records.map((r) => r.base).slice(0, 2), [h0, h0]);
  assertEquals(hex(records[0].record.modelHash), h0);
  // Each record starts where the last one ended, and window w + 1's base is record w's start.
  for (let w = 1; w < 3; w++) {
    assertEquals(hex(records[w].record.modelHash), hex(records[w - 1].record.nextModelHash));
    assertEquals(records[w].base, hex(records[w - 1].record.modelHash));
  }
  // The first delayed step is exactly the undelayed round 0 (same updates on θ₀): compared
  // with the default mode, whose hashes test/round_golden_test.ts pins.
  const undelayed = await ModelChain.at(ctx, Float32Array.from(theta0), -1);
  const n = await undelayed.next(0, contributions(0, undelayed.hash));
  const d0 = await (await ModelChain.at(dctx, Float32Array.from(theta0), -1)).next(
    0,
    delayedContributions(0, undelayed.hash),
  );
  assertEquals(hex(d0.hash), hex(n.hash));
  // Golden: the head after three delayed rounds of these seeded updates.
  assertEquals(v.hashHex, DELAYED_HEAD_AFTER_3);
});

/** Recorded when the mode was added (a change to the delayed walk that alters a bit fails it). */
const DELAYED_HEAD_AFTER_3 = "3bfd83a2122e75b2f56ccb44be6aa1f512c6ce58783ddd4677f12fa866f547e7";

Deno.test("ModelChain outer delay 1: a peer replays the records to the validator's bits, prepared ahead", async () => {
  const { v, records } = await delayedRun();
  const fetch = await fetcherOf(records.flatMap((r) => r.cs.map((c) => c.bytes)));
  const p = await ModelChain.at(dctx, Float32Array.from(theta0), -1);
  for (const { record } of records) {
    const next = await p.prepareRecord(record, fetch);
    assertEquals(p.applied, record.window - 1, "prepare does not move the head");
    p.commit(record.window, next);
    assertEquals(p.hashHex, hex(record.nextModelHash));
  }
  assertEquals(p.params, v.params);
});

Deno.test("ModelChain outer delay 1: updates from the head instead of the base are refused", async () => {
  const { records } = await delayedRun();
  const chain = await ModelChain.at(dctx, Float32Array.from(theta0), -1);
  const fetch = await fetcherOf(records[0].cs.map((c) => c.bytes));
  await chain.applyRecord(records[0].record, fetch);
  // Window 1's updates must come from θ₀ (the head before record 0), not from the head.
  const wrong = delayedContributions(1, chain.hash);
  await rejects(() => chain.next(1, wrong), "bad-update");
  assertEquals(hex(chain.baseHash(1)!), records[1].base);
  assertEquals(chain.baseParams(1), theta0);
  assertEquals(chain.baseHash(0), undefined, "window 0's base is gone once record 0 is in");
});

Deno.test("ModelChain outer delay 1: a restarted chain learns the base from the record log only", async () => {
  const { v, records } = await delayedRun();
  const restarted = await ModelChain.at(dctx, Float32Array.from(v.params), 2);
  assertEquals(restarted.baseHash(3), undefined);
  assertThrows(() => restarted.checkUpdate(records[2].cs[0].bytes, 3), ChainError);
  restarted.recordBase = (w) => records[w]?.record.modelHash;
  assertEquals(hex(restarted.baseHash(3)!), hex(records[2].record.modelHash));
  assertEquals(restarted.baseParams(3), undefined, "the base's parameters are not held");
  assertEquals(hex(restarted.baseHash(4)!), restarted.hashHex);
});
