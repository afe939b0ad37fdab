import { assert, assertEquals } from "../testing/assert.ts";
import { Rng } from "../util/rng.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady, type Signer } from "../identity/signer.ts";
import { localGenesis } from "./local_genesis.ts";
import { type RoundRecord, signMessage } from "../codec/messages.ts";
import { RecordLog, type SignedRecord, verifyRecord } from "./record_log.ts";
import { type RunContext, runContext } from "./run_context.ts";
import { MemoryStore } from "./memory_store.ts";
import type { StateStore } from "./state_store.ts";
import { STORE_KINDS } from "../testing/stores.ts";

await identityReady();

const GENESIS_TIME = 1_700_000_000_000;
const alice = KeySigner.fromUri("//Alice"); // the genesis validator
const bob = KeySigner.fromUri("//Bob");
const charlie = KeySigner.fromUri("//Charlie");
const ctx = runContext(localGenesis({ validators: [alice.address], genesisTime: GENESIS_TIME }));
const otherCtx = runContext(
  localGenesis({ validators: [alice.address], genesisTime: GENESIS_TIME, name: "other" }),
);

/** 32 seeded bytes. */
function hash32(seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: 32 }, () => rng.int(256));
}

function roundRecord(window: number, salt = 0): RoundRecord {
  return {
    kind: "round-record",
    window,
    modelHash: hash32(1000 + window),
    nextModelHash: hash32(1001 + window + 7919 * salt),
    contributors: [{ address: charlie.address, payloadHash: hash32(5000 + window) }],
  };
}

function sign(
  window: number,
  o: { signer?: Signer; c?: RunContext; salt?: number } = {},
): Promise<Uint8Array> {
  const c = o.c ?? ctx;
  return signMessage(o.signer ?? alice, {
    runId: c.runId,
    timestamp: c.clock.windowEnd(window) + 1_000,
    body: roundRecord(window, o.salt),
  });
}

async function signed(window: number, salt = 0): Promise<SignedRecord> {
  const r = verifyRecord(ctx, await sign(window, { salt }));
  if (typeof r === "string") throw new Error(`record of window ${window} refused: ${r}`);
  return r;
}

function windowsOf(rs: readonly SignedRecord[]): number[] {
  return rs.map((r) => r.record.window);
}

Deno.test("verifyRecord accepts a round record signed by the genesis validator", async () => {
  const bytes = await sign(3);
  const r = verifyRecord(ctx, bytes);
  assert(typeof r !== "string", `refused: ${r}`);
  assertEquals(r.sender, alice.address);
  assert(r.bytes === bytes, "keeps the bytes as signed");
  assertEquals(r.record.window, 3);
  assertEquals(r.record.modelHash, roundRecord(3).modelHash);
  assertEquals(r.record.nextModelHash, roundRecord(3).nextModelHash);
  assertEquals(r.record.contributors, roundRecord(3).contributors);
});

Deno.test("verifyRecord refuses another signer, another run and other messages", async () => {
  const byBob = verifyRecord(ctx, await sign(3, { signer: bob }));
  assert(typeof byBob === "string" && byBob.startsWith("unauthorized"), `Bob: ${byBob}`);
  const otherRun = verifyRecord(ctx, await sign(3, { c: otherCtx }));
  assert(typeof otherRun === "string" && otherRun.startsWith("unknown-run"), `run: ${otherRun}`);
  const tampered = Uint8Array.from(await sign(3));
  tampered[100] ^= 1;
  const t = verifyRecord(ctx, tampered);
  assert(typeof t === "string" && t.startsWith("bad-signature"), `tampered: ${t}`);
  const announce = await signMessage(alice, {
    runId: ctx.runId,
    timestamp: GENESIS_TIME,
    body: {
      kind: "update-announce",
      window: 3,
      modelHash: hash32(1),
      payloadHash: hash32(2),
      size: 1000,
    },
  });
  const a = verifyRecord(ctx, announce);
  assert(typeof a === "string" && a.includes("not a round record"), `announce: ${a}`);
});

Deno.test("verifyRecord returns a reason for garbage and never throws", async () => {
  const rng = new Rng(42);
  const valid = await sign(2);
  const inputs: Uint8Array[] = [new Uint8Array(0), new Uint8Array(1_000_000)];
  for (let n = 0; n < valid.length; n += 7) inputs.push(valid.subarray(0, n));
  for (let i = 0; i < 200; i++) {
    inputs.push(Uint8Array.from({ length: rng.int(300) }, () => rng.int(256)));
    const flipped = Uint8Array.from(valid);
    flipped[rng.int(flipped.length)] ^= 1 << rng.int(8);
    inputs.push(flipped);
  }
  for (const bytes of inputs) {
    const r = verifyRecord(ctx, bytes);
    assert(typeof r === "string", `accepted ${bytes.length} bytes of garbage`);
  }
  const r = verifyRecord(ctx, Uint8Array.from({ length: 200 }, () => rng.int(256)));
  assert(typeof r === "string" && r.startsWith("malformed"), `random bytes: ${r}`);
});

for (const kind of STORE_KINDS) {
  const test = (name: string, fn: (store: StateStore) => Promise<void>) =>
    Deno.test(`RecordLog (${kind.name}) ${name}`, () => kind.with(fn));

  test("add persists records and keeps the first of a window", async (store) => {
    const log = await RecordLog.open(ctx, store);
    assertEquals(log.size, 0);
    assertEquals(log.latest(), undefined);
    const r3 = await signed(3);
    assertEquals(await log.add(r3), true);
    assertEquals(await store.get("0000000003.msg"), r3.bytes);
    const other3 = await signed(3, 1);
    assert(other3.bytes.join() !== r3.bytes.join(), "a different record of window 3");
    assertEquals(await log.add(other3), false);
    assertEquals(log.size, 1);
    assertEquals(log.get(3)?.bytes, r3.bytes);
    assertEquals(await store.get("0000000003.msg"), r3.bytes);
    assertEquals(await store.list(), ["0000000003.msg"]);
  });

  test("reopens the records it persisted", async (store) => {
    const log = await RecordLog.open(ctx, store);
    for (const w of [7, 0, 12, 3, 4]) assertEquals(await log.add(await signed(w)), true);
    const warnings: string[] = [];
    const again = await RecordLog.open(ctx, store, (l) => warnings.push(l));
    assertEquals(warnings, []);
    assertEquals(again.size, 5);
    for (const w of [0, 3, 4, 7, 12]) {
      assertEquals(again.get(w)?.bytes, log.get(w)?.bytes, `window ${w}`);
      assertEquals(again.get(w)?.sender, alice.address);
    }
    assertEquals(again.get(5), undefined);
    assertEquals(again.latest()?.record.window, 12);
    assertEquals(windowsOf(again.after(-1)), [0, 3, 4, 7, 12]);
  });

  test("quarantines records that do not verify and warns", async (store) => {
    const log = await RecordLog.open(ctx, store);
    const good = await signed(1);
    await log.add(good);
    await log.add(await signed(2));
    // Corrupt window 2's record; drop a record signed by Bob and a stray blob beside them.
    const corrupted = (await store.get("0000000002.msg"))!;
    corrupted[120] ^= 0x10;
    await store.put("0000000002.msg", corrupted);
    await store.put("0000000008.msg", await sign(8, { signer: bob }));
    await store.put("notes.txt", new TextEncoder().encode("not a record"));
    const warnings: string[] = [];
    const again = await RecordLog.open(ctx, store, (l) => warnings.push(l));
    assertEquals(again.size, 1);
    assertEquals(again.get(1)?.bytes, good.bytes);
    assertEquals(again.get(2), undefined);
    assertEquals(again.get(8), undefined);
    assertEquals(warnings.length, 2, warnings.join("\n"));
    const w2 = warnings.find((l) => l.includes(`${store.where}/0000000002.msg`));
    const w8 = warnings.find((l) => l.includes(`${store.where}/0000000008.msg`));
    assert(w2 !== undefined && w2.includes(".bad-"), warnings.join("\n"));
    assert(w8 !== undefined && w8.includes("unauthorized"), warnings.join("\n"));
    const names = await store.list();
    assert(!names.includes("0000000002.msg"), "the corrupted record is gone");
    const bad2 = names.find((n) => n.startsWith("0000000002.msg.bad-"));
    assert(bad2 !== undefined, `the corrupted record is kept aside (${names})`);
    assertEquals(await store.get(bad2), corrupted);
    assert(names.some((n) => n.startsWith("0000000008.msg.bad-")), "Bob's record is moved aside");
    assert(names.includes("notes.txt"), "other blobs are left alone");
    // Once moved aside, the next open is quiet, and window 2 can be stored again.
    const quiet: string[] = [];
    const third = await RecordLog.open(ctx, store, (l) => quiet.push(l));
    assertEquals(quiet, []);
    const fresh = await signed(2);
    assertEquals(await third.add(fresh), true);
    assertEquals(await store.get("0000000002.msg"), fresh.bytes);
  });

  test("opens a folder that does not exist yet and persists into it", async (store) => {
    const nested = store.sub("a").sub("records");
    const log = await RecordLog.open(ctx, nested);
    assertEquals(log.size, 0);
    await log.add(await signed(0));
    assertEquals(await nested.list(), ["0000000000.msg"]);
    assertEquals(await store.list(), []);
  });
}

Deno.test("RecordLog records, after and latest answer in ascending windows", async () => {
  const log = await RecordLog.open(ctx, new MemoryStore());
  for (const w of [9, 2, 5, 0, 6, 3]) assertEquals(await log.add(await signed(w)), true);
  const windowOf = (bytes: Uint8Array) => {
    const r = verifyRecord(ctx, bytes);
    if (typeof r === "string") throw new Error(r);
    return r.record.window;
  };
  assertEquals(log.records(0, 100).map(windowOf), [0, 2, 3, 5, 6, 9]);
  assertEquals(log.records(3, 100).map(windowOf), [3, 5, 6, 9]);
  assertEquals(log.records(4, 2).map(windowOf), [5, 6]);
  assertEquals(log.records(1, 1).map(windowOf), [2]);
  assertEquals(log.records(10, 5), []);
  assertEquals(log.records(0, 0), []);
  assertEquals(windowsOf(log.after(3)), [5, 6, 9]);
  assertEquals(windowsOf(log.after(-1)), [0, 2, 3, 5, 6, 9]);
  assertEquals(windowsOf(log.after(9)), []);
  assertEquals(log.latest()?.record.window, 9);
  // A newer record moves latest; a late older one fills its place in the order.
  await log.add(await signed(11));
  await log.add(await signed(1));
  assertEquals(log.latest()?.record.window, 11);
  assertEquals(windowsOf(log.after(0)), [1, 2, 3, 5, 6, 9, 11]);
  assertEquals(log.checkpoint(), null);
});

Deno.test("RecordLog add of one window twice at once keeps one record", async () => {
  const store = new MemoryStore();
  const log = await RecordLog.open(ctx, store);
  const [a, b] = [await signed(4), await signed(4, 1)];
  const added = await Promise.all([log.add(a), log.add(b)]);
  assertEquals(added, [true, false]);
  assertEquals(log.get(4)?.bytes, a.bytes);
  assertEquals(await store.get("0000000004.msg"), a.bytes);
});
