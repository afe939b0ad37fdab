import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { ed25519PairFromSeed, ed25519Sign } from "@polkadot/util-crypto";
import { Rng } from "../util/rng.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady, type Signer } from "../identity/signer.ts";
import { runIdOf } from "../protocol/genesis.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import {
  type Capability,
  decodeMessage,
  encodeMessage,
  MAX_MESSAGE_BYTES,
  MAX_MESSAGE_BYTES_BY_KIND,
  type MessageBody,
  MessageError,
  type MessageResult,
  type PeerAnnounceBody,
  peerBindingBytes,
  peerIdFromKey,
  peerKeyFromPeerId,
  type RejectReason,
  type RoundRecord,
  type ScoredPeer,
  signMessage,
  type VerdictCode,
  verifyMessage,
  type VerifyOptions,
} from "./messages.ts";

await identityReady();

const T0 = 1_750_000_000_000;
const NOW = T0 + 95_000;
const alice = KeySigner.fromUri("//Alice"); // the validator
const bob = KeySigner.fromUri("//Bob");
const mallory = KeySigner.fromSeed(new Uint8Array(32).fill(0x66));
const runId = runIdOf(localGenesis({ validators: [alice.address], genesisTime: T0 }));
const otherRun = runIdOf(localGenesis({ validators: [alice.address], genesisTime: T0 + 1 }));
const OPTS: VerifyOptions = { runId, validators: [alice.address], now: NOW };

// libp2p identities: Ed25519 keys from fixed seeds.
const bobLibp2p = ed25519PairFromSeed(new Uint8Array(32).fill(9));
const malloryLibp2p = ed25519PairFromSeed(new Uint8Array(32).fill(10));

function bytes(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

function peerBody(
  signer: Signer,
  pair = bobLibp2p,
  capabilities: Capability[] = ["train", "serve-payloads"],
): PeerAnnounceBody {
  return {
    kind: "peer-announce",
    peerKey: pair.publicKey,
    peerSignature: ed25519Sign(peerBindingBytes(runId, signer.publicKey), pair),
    addresses: ["/ip4/127.0.0.1/tcp/4001/ws", "/dns4/peer.example/tcp/443/wss"],
    capabilities,
  };
}

const updateBody: MessageBody = {
  kind: "update-announce",
  window: 3,
  modelHash: bytes(32, 1),
  payloadHash: bytes(32, 2),
  size: 123_456,
};

const roundBody: MessageBody = {
  kind: "round-record",
  window: 3,
  modelHash: bytes(32, 1),
  nextModelHash: bytes(32, 3),
  contributors: [
    { address: mallory.address, payloadHash: bytes(32, 5) },
    { address: bob.address, payloadHash: bytes(32, 2) },
  ],
};

function sign(
  signer: Signer,
  body: MessageBody,
  timestamp = T0 + 93_000,
  id = runId,
): Promise<Uint8Array> {
  return signMessage(signer, { runId: id, timestamp, body });
}

function expectReject(r: MessageResult, reason: RejectReason, includes = ""): void {
  assert(!r.ok, `expected ${reason}, the message was accepted`);
  if (r.ok) return;
  assertEquals(r.reason, reason, r.detail);
  assert(r.detail.includes(includes), `expected "${includes}" in "${r.detail}"`);
  assert(!r.detail.startsWith("internal"), r.detail);
}

function accepted(r: MessageResult) {
  if (!r.ok) throw new Error(`rejected: ${r.reason}: ${r.detail}`);
  return r.message;
}

/** Re-signs `unsigned` (all but the signature) as `signer` would have for `kind`. */
async function resign(signer: Signer, domain: string, unsigned: Uint8Array): Promise<Uint8Array> {
  const d = new TextEncoder().encode(domain);
  const sig = await signer.sign(new Uint8Array([...d, ...unsigned]));
  return new Uint8Array([...unsigned, ...sig]);
}

Deno.test("messages round-trip: each kind signs, verifies and re-encodes to the same bytes", async () => {
  const peer = await sign(bob, peerBody(bob));
  const update = await sign(bob, updateBody);
  const round = await sign(alice, roundBody);
  assertEquals(update.length, MAX_MESSAGE_BYTES_BY_KIND["update-announce"]);
  assertEquals(update.length, 216);

  const p = accepted(verifyMessage(peer, OPTS));
  assertEquals([p.sender, p.timestamp, p.runId], [bob.address, T0 + 93_000, runId]);
  assert(p.body.kind === "peer-announce");
  assertEquals(p.body.peerId, peerIdFromKey(bobLibp2p.publicKey));
  assertEquals(p.body.addresses, ["/ip4/127.0.0.1/tcp/4001/ws", "/dns4/peer.example/tcp/443/wss"]);
  assertEquals(p.body.capabilities, ["train", "serve-payloads"]);
  assertEquals(encodeMessage(p), peer);

  const u = accepted(verifyMessage(update, { ...OPTS, expectedWindow: 3 }));
  assertEquals(u.body, updateBody);
  assertEquals(u.senderKey, bob.publicKey);
  assertEquals(encodeMessage(u), update);

  const r = accepted(verifyMessage(round, { ...OPTS, expectedWindow: [2, 3], maxContributors: 2 }));
  assert(r.body.kind === "round-record");
  // Decoded in ascending key order, whatever order they were given in.
  const keyOf = (a: string) => (a === bob.address ? bob : mallory).publicKey;
  const sorted = [...roundBody.contributors].sort((a, b) => {
    const [x, y] = [keyOf(a.address), keyOf(b.address)];
    const i = x.findIndex((v, j) => v !== y[j]);
    return x[i] - y[i];
  });
  assertEquals(r.body.contributors, sorted);
  assertEquals(encodeMessage(r), round);
  // Contributor order does not change the encoding.
  const swapped = await sign(alice, {
    ...roundBody,
    contributors: [...roundBody.contributors].reverse(),
  });
  assertEquals(swapped.subarray(0, swapped.length - 64), round.subarray(0, round.length - 64));
});

Deno.test("peerIdFromKey matches libp2p's Ed25519 peer ids", () => {
  // Checked against @libp2p/peer-id peerIdFromPrivateKey for the same seed.
  const id = "12D3KooWSrKnMZUcSxK8G7wmBbXdU8nFEfWGhLu6H8xjn8LmCSJb";
  assertEquals(peerIdFromKey(bobLibp2p.publicKey), id);
  assertEquals(peerKeyFromPeerId(id), bobLibp2p.publicKey);
  assertThrows(
    () => peerKeyFromPeerId("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
    MessageError,
    "not an Ed25519",
  );
  assertThrows(() => peerKeyFromPeerId("not base58 0OIl"), MessageError, "not a base58");
});

Deno.test("verifyMessage rejects bad signatures", async () => {
  const update = await sign(bob, updateBody);
  const sigFlip = update.slice();
  sigFlip[update.length - 10] ^= 1;
  expectReject(verifyMessage(sigFlip, OPTS), "bad-signature");
  const bodyFlip = update.slice();
  bodyFlip[100] ^= 1; // inside the model hash
  expectReject(verifyMessage(bodyFlip, OPTS), "bad-signature", `not signed by ${bob.address}`);
  // Claiming another sender: swap in mallory's key, keep bob's signature.
  const claimed = update.slice();
  claimed.set(mallory.publicKey, 40);
  expectReject(verifyMessage(claimed, OPTS), "bad-signature", mallory.address);
  // A signature made for another kind does not carry over (domain separation).
  const unsigned = update.subarray(0, update.length - 64);
  expectReject(
    verifyMessage(await resign(bob, "webloco/peer-announce/v1", unsigned), OPTS),
    "bad-signature",
  );
  accepted(verifyMessage(await resign(bob, "webloco/update-announce/v1", unsigned), OPTS));
});

Deno.test("verifyMessage refuses a libp2p peer id claimed by another key", async () => {
  // Mallory announces bob's libp2p identity with bob's binding signature: refused.
  const stolen = await sign(mallory, peerBody(bob));
  expectReject(verifyMessage(stolen, OPTS), "bad-signature", "did not bind itself");
  // Mallory's own libp2p key signing for bob's key does not let her announce it either.
  const forged = await sign(mallory, {
    ...peerBody(bob, malloryLibp2p),
    peerKey: bobLibp2p.publicKey,
  });
  expectReject(verifyMessage(forged, OPTS), "bad-signature", "did not bind itself");
  // A binding for another run does not carry over.
  const otherBinding = ed25519Sign(peerBindingBytes(otherRun, bob.publicKey), bobLibp2p);
  const replayed = await sign(bob, { ...peerBody(bob), peerSignature: otherBinding });
  expectReject(verifyMessage(replayed, OPTS), "bad-signature");
  accepted(verifyMessage(await sign(mallory, peerBody(mallory, malloryLibp2p)), OPTS));
});

Deno.test("verifyMessage rejects another run, a wrong window and stale or future timestamps", async () => {
  const update = await sign(bob, updateBody);
  expectReject(verifyMessage(await sign(bob, updateBody, T0, otherRun), OPTS), "unknown-run");
  expectReject(
    verifyMessage(update, { ...OPTS, expectedWindow: 4 }),
    "wrong-window",
    "window 3, expected 4",
  );
  expectReject(
    verifyMessage(await sign(alice, roundBody), { ...OPTS, expectedWindow: [4, 5] }),
    "wrong-window",
  );
  accepted(verifyMessage(await sign(bob, peerBody(bob)), { ...OPTS, expectedWindow: 99 })); // no window
  expectReject(verifyMessage(update, { ...OPTS, now: NOW + 62_000 }), "stale", "limit ±60000");
  expectReject(verifyMessage(update, { ...OPTS, now: T0 }), "stale");
  accepted(verifyMessage(update, { ...OPTS, now: NOW + 62_000, maxSkewMs: 120_000 }));
  accepted(verifyMessage(update, { runId, validators: [alice.address] })); // replay: no clock check
});

Deno.test("verifyMessage accepts round records only from the genesis validators", async () => {
  expectReject(verifyMessage(await sign(bob, roundBody), OPTS), "unauthorized", bob.address);
  accepted(verifyMessage(await sign(alice, roundBody), { ...OPTS, validators: [alice.publicKey] }));
  expectReject(
    verifyMessage(await sign(alice, roundBody), { ...OPTS, validators: ["garbage"] }),
    "unauthorized",
  );
});

Deno.test("verifyMessage rejects oversized messages, payloads and contributor lists", async () => {
  expectReject(verifyMessage(new Uint8Array(MAX_MESSAGE_BYTES + 1), OPTS), "oversized");
  const update = await sign(bob, updateBody);
  const long = new Uint8Array(300);
  long.set(update.subarray(0, 80));
  expectReject(verifyMessage(long, OPTS), "oversized", "update-announce messages are at most 216");
  expectReject(
    verifyMessage(update, { ...OPTS, maxPayloadBytes: 100_000 }),
    "oversized",
    "announced payload",
  );
  expectReject(
    verifyMessage(await sign(alice, roundBody), { ...OPTS, maxContributors: 1 }),
    "oversized",
    "the run allows 1",
  );
});

Deno.test("verifyMessage rejects malformed encodings before checking signatures", async () => {
  const update = await sign(bob, updateBody);
  const peer = await sign(bob, peerBody(bob));
  const round = await sign(alice, roundBody);
  const edit = (b: Uint8Array, at: number, v: number) => {
    const c = b.slice();
    c[at] = v;
    return c;
  };
  expectReject(
    verifyMessage(update.subarray(0, 100), OPTS),
    "malformed",
    "shorter than any message",
  );
  expectReject(verifyMessage(update.subarray(0, 215), OPTS), "malformed", "truncated");
  expectReject(
    verifyMessage(new Uint8Array([...update, 0]), OPTS),
    "oversized",
    "update-announce messages are at most 216",
  );
  expectReject(verifyMessage(new Uint8Array([...round, 0]), OPTS), "malformed", "1 bytes after");
  expectReject(verifyMessage(edit(update, 0, 0x58), OPTS), "malformed", "bad magic");
  expectReject(verifyMessage(edit(update, 4, 2), OPTS), "malformed", "version 2");
  expectReject(verifyMessage(edit(update, 5, 5), OPTS), "malformed", "unknown kind 5");
  expectReject(verifyMessage(edit(update, 5, 0), OPTS), "malformed", "unknown kind 0");
  expectReject(verifyMessage(edit(update, 6, 1), OPTS), "malformed", "reserved");
  expectReject(verifyMessage(edit(update, 79, 0x01), OPTS), "malformed", "timestamp");
  // payload size below an update header: size is the last u32 of the body
  const small = update.slice();
  new DataView(small.buffer).setUint32(148, 10, true);
  expectReject(verifyMessage(small, OPTS), "malformed", "payload size 10");
  // peer announcement: capability bits, address count, address text
  const capsAt = 80 + 32 + 64;
  expectReject(verifyMessage(edit(peer, capsAt + 1, 0x80), OPTS), "malformed", "capability");
  expectReject(verifyMessage(edit(peer, capsAt + 2, 17), OPTS), "malformed", "17 addresses");
  expectReject(verifyMessage(edit(peer, capsAt + 2, 3), OPTS), "malformed", "truncated");
  expectReject(
    verifyMessage(edit(peer, capsAt + 4, 0x20), OPTS),
    "malformed",
    "address 0 is not a multiaddr",
  );
  expectReject(
    verifyMessage(edit(peer, capsAt + 4, 0xc3), OPTS),
    "malformed",
    "address 0 is not a multiaddr",
  );
  // round record: contributor order and count
  const countAt = 80 + 4 + 64;
  // One contributor fewer: the second one's key bytes are then read as the scored count.
  expectReject(verifyMessage(edit(round, countAt, 1), OPTS), "malformed", "scored peers, at most 256");
  expectReject(verifyMessage(edit(round, countAt, 65), OPTS), "malformed", "65 contributors");
  const unsorted = round.slice();
  unsorted.set(round.subarray(countAt + 1, countAt + 65), countAt + 65);
  unsorted.set(round.subarray(countAt + 65, countAt + 129), countAt + 1);
  expectReject(verifyMessage(unsorted, OPTS), "malformed", "ascending key order");
  const dup = round.slice();
  dup.set(round.subarray(countAt + 1, countAt + 65), countAt + 65);
  expectReject(verifyMessage(dup, OPTS), "malformed", "ascending key order");
});

Deno.test("verifyMessage never throws on values that are not bytes", () => {
  for (const v of [null, undefined, "WLMS", 42, {}, [1, 2, 3], new Uint16Array(200)]) {
    // deno-lint-ignore no-explicit-any
    expectReject(verifyMessage(v as any, OPTS), "malformed");
    // deno-lint-ignore no-explicit-any
    expectReject(decodeMessage(v as any), "malformed");
  }
});

Deno.test("signMessage refuses drafts that break the format", async () => {
  const rejects = async (body: unknown, includes: string, draft: Record<string, unknown> = {}) => {
    try {
      await signMessage(bob, { runId, timestamp: T0, body: body as MessageBody, ...draft });
    } catch (e) {
      assert(e instanceof MessageError, String(e));
      assert(e.message.includes(includes), `expected "${includes}" in "${e.message}"`);
      return;
    }
    throw new Error(`expected MessageError with "${includes}"`);
  };
  await rejects(updateBody, "runId must be 32 bytes", { runId: new Uint8Array(31) });
  await rejects(updateBody, "timestamp", { timestamp: -1 });
  await rejects(updateBody, "timestamp", { timestamp: 1.5 });
  await rejects({ ...updateBody, kind: "hello" }, "unknown message kind");
  await rejects({ ...updateBody, window: 2 ** 32 }, "window");
  await rejects({ ...updateBody, size: 77 }, "size");
  await rejects({ ...updateBody, modelHash: new Uint8Array(31) }, "modelHash must be 32 bytes");
  const p = peerBody(bob);
  await rejects({ ...p, addresses: ["nope"] }, "not a multiaddr");
  await rejects({ ...p, addresses: ["/a", "/a"] }, "repeat");
  await rejects(
    { ...p, addresses: Array.from({ length: 17 }, (_, i) => `/ip4/1.1.1.${i}`) },
    "at most 16",
  );
  await rejects({ ...p, capabilities: ["mine"] }, "unknown capability");
  await rejects({ ...p, peerSignature: new Uint8Array(63) }, "peerSignature");
  const r = roundBody as Extract<MessageBody, { kind: "round-record" }>;
  await rejects({ ...r, contributors: [r.contributors[0], r.contributors[0]] }, "repeats");
  await rejects(
    { ...r, contributors: Array.from({ length: 65 }, () => r.contributors[0]) },
    "at most 64",
  );
  await rejects({ ...r, contributors: [{ address: "5Grw", payloadHash: bytes(32, 0) }] }, "SS58");
  await rejects({ ...r, contributors: [{ address: bob.address }] }, "payloadHash");
});

Deno.test("verifyMessage fuzz: mutated and random inputs are refused or decode canonically, never throw", async () => {
  const valid = [
    await sign(bob, peerBody(bob)),
    await sign(bob, peerBody(bob, bobLibp2p, [])),
    await sign(bob, updateBody),
    await sign(alice, roundBody),
    await sign(alice, { ...roundBody, contributors: [] }),
  ];
  const originals = new Set(valid.map((v) => v.join(",")));
  const rng = new Rng(20250101);
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(256));
  const counts: Record<string, number> = {};
  let slowest = 0;
  for (let i = 0; i < 3000; i++) {
    const started = performance.now();
    const src = valid[rng.int(valid.length)];
    let b: Uint8Array;
    switch (rng.int(8)) {
      case 0: { // flip 1..4 bits
        b = src.slice();
        for (let j = 1 + rng.int(4); j > 0; j--) b[rng.int(b.length)] ^= 1 << rng.int(8);
        break;
      }
      case 1: { // overwrite a byte in the header or body (not the signature)
        b = src.slice();
        b[rng.int(b.length - 64)] = rng.int(256);
        break;
      }
      case 2: // truncate
        b = src.slice(0, rng.int(src.length));
        break;
      case 3: // extend
        b = new Uint8Array([...src, ...randomBytes(1 + rng.int(40))]);
        break;
      case 4: { // splice two messages
        const other = valid[rng.int(valid.length)];
        const cut = rng.int(Math.min(src.length, other.length));
        b = new Uint8Array([...src.subarray(0, cut), ...other.subarray(cut)]);
        break;
      }
      case 5: { // valid header, random tail of any length
        b = new Uint8Array([...src.subarray(0, 80), ...randomBytes(rng.int(400))]);
        break;
      }
      case 6: { // set a length or count field to an extreme
        b = src.slice();
        const at = [5, 80 + 32 + 64 + 2, 80 + 32 + 64 + 3, 80 + 4 + 64, b.length - 65][rng.int(5)];
        if (at < b.length) b[at] = [0, 1, 0x7f, 0x80, 0xff][rng.int(5)];
        break;
      }
      default: // pure noise, sometimes with the magic
        b = randomBytes(rng.int(600));
        if (rng.int(2) === 0 && b.length >= 6) b.set([0x57, 0x4c, 0x4d, 0x53, 1, 1 + rng.int(3)]);
    }
    let r: MessageResult;
    let d: MessageResult;
    try {
      r = verifyMessage(b, OPTS);
      d = decodeMessage(b);
    } catch (e) {
      throw new Error(`threw on input ${i}: ${e}`);
    }
    if (r.ok) assert(originals.has(b.join(",")), `input ${i} was accepted but is not an original`);
    else assert(!r.detail.startsWith("internal"), `input ${i}: ${r.detail}`);
    if (d.ok) {
      assertEquals(encodeMessage(d.message), b, `input ${i} decoded but re-encodes differently`);
    } else assert(!d.detail.startsWith("internal"), `input ${i}: ${d.detail}`);
    const key = r.ok ? "ok" : r.reason;
    counts[key] = (counts[key] ?? 0) + 1;
    slowest = Math.max(slowest, performance.now() - started);
  }
  // A hang guard, not a speed target (a loaded CI machine is slow): no input may make the
  // decoder loop; one input costs well under a millisecond.
  assert(slowest < 2000, `one input took ${slowest.toFixed(0)} ms`);
  // The mutations reach past the decoder: signatures are checked and refused too.
  assert((counts["bad-signature"] ?? 0) > 100, JSON.stringify(counts));
  assert((counts["malformed"] ?? 0) > 1000, JSON.stringify(counts));
  assert((counts["oversized"] ?? 0) > 50, JSON.stringify(counts));
});

Deno.test("round records carry every judged peer's scores and verdict, in one canonical order", async () => {
  const body = roundBody as RoundRecord;
  const scored: ScoredPeer[] = [
    { address: mallory.address, gradScore: -0.25, score: -3.5, verdict: "copy", until: 22, other: bob.address },
    { address: bob.address, gradScore: 0.015625, score: 4.5, verdict: "selected", until: 0, other: null },
  ];
  const round = await sign(alice, { ...body, scored });
  const plain = await sign(alice, body);
  assertEquals(round.length - plain.length, 2 * 77);
  const r = accepted(verifyMessage(round, { ...OPTS, maxContributors: 2 }));
  assert(r.body.kind === "round-record");
  assertEquals(r.body.scored!.length, 2);
  for (const s of scored) assertEquals(r.body.scored!.find((x) => x.address === s.address), s);
  assertEquals(encodeMessage(r), round);
  const swapped = await sign(alice, { ...body, scored: [...scored].reverse() });
  assertEquals(swapped.subarray(0, swapped.length - 64), round.subarray(0, round.length - 64));
  // A record without scores decodes with an empty list.
  const p = accepted(verifyMessage(plain, { ...OPTS, maxContributors: 2 }));
  assert(p.body.kind === "round-record");
  assertEquals(p.body.scored, []);
  // Hostile bytes: an unknown verdict code is refused, not thrown. Scored entries start after
  // the contributors; the verdict sits 40 bytes into an entry.
  const verdictAt = 80 + 4 + 32 + 32 + 1 + 2 * 64 + 2 + 40;
  const bad = round.slice();
  bad[verdictAt] = 200;
  expectReject(verifyMessage(bad, { ...OPTS, maxContributors: 2 }), "malformed", "unknown verdict 200");
  const refused = async (draft: MessageBody, text: string) => {
    const e = await sign(alice, draft).then(() => null, (e) => e);
    assert(e instanceof MessageError && e.message.includes(text), `expected "${text}", got ${e}`);
  };
  await refused({ ...body, scored: [scored[0], scored[0]] }, "a scored peer repeats");
  await refused({ ...body, scored: [{ ...scored[0], verdict: "great" as VerdictCode }] }, "unknown verdict");
});

Deno.test("round records carry an optional validation loss; records without one decode as before", async () => {
  const body = roundBody as RoundRecord;
  const plain = await sign(alice, body);
  const withLoss = await sign(alice, { ...body, validLoss: 3.25 });
  assertEquals(withLoss.length - plain.length, 4);
  assertEquals(MAX_MESSAGE_BYTES_BY_KIND["round-record"], 80 + 71 + 64 * 64 + (77 + 32) * 256 + 4 + 64);
  const r = accepted(verifyMessage(withLoss, { ...OPTS, maxContributors: 2 }));
  assert(r.body.kind === "round-record");
  assertEquals(r.body.validLoss, 3.25);
  assertEquals(encodeMessage(r), withLoss);
  // An old record (no trailing field) has no validLoss key at all.
  const p = accepted(verifyMessage(plain, { ...OPTS, maxContributors: 2 }));
  assert(p.body.kind === "round-record");
  assert(!("validLoss" in p.body), JSON.stringify(Object.keys(p.body)));
  assertEquals(encodeMessage(p), plain);
  // Hostile bytes: a NaN loss (re-signed, so only the value is wrong) and a stray byte.
  const unsigned = withLoss.slice(0, withLoss.length - 64);
  new DataView(unsigned.buffer).setFloat32(unsigned.length - 4, NaN, true);
  const nan = await resign(alice, "webloco/round-record/v1", unsigned);
  expectReject(verifyMessage(nan, { ...OPTS, maxContributors: 2 }), "malformed", "validation loss NaN");
  const stray = await resign(alice, "webloco/round-record/v1", withLoss.slice(0, withLoss.length - 65));
  expectReject(verifyMessage(stray, { ...OPTS, maxContributors: 2 }), "malformed", "bytes after");
  const e = await sign(alice, { ...body, validLoss: Infinity }).then(() => null, (e) => e);
  assert(e instanceof MessageError && e.message.includes("validLoss"), String(e));
});

Deno.test("round records carry a delegated key's wallet only when one is known, as flag 0x0200", async () => {
  const body = roundBody as RoundRecord;
  const opts = { ...OPTS, maxContributors: 2 };
  const plain: ScoredPeer[] = [
    { address: mallory.address, gradScore: 0.5, score: 1, verdict: "reserve", until: 0, other: null },
    { address: bob.address, gradScore: 0.25, score: 2, verdict: "selected", until: 0, other: null },
  ];
  const before = await sign(alice, { ...body, scored: plain });
  assertEquals(new DataView(before.buffer).getUint16(6, true), 0); // today's bytes
  const scored = [plain[0], { ...plain[1], wallet: alice.address }];
  const round = await sign(alice, { ...body, scored });
  assertEquals(round.length - before.length, 2 * 32);
  assertEquals(new DataView(round.buffer).getUint16(6, true), 0x0200);
  const r = accepted(verifyMessage(round, opts));
  assert(r.body.kind === "round-record");
  for (const s of scored) assertEquals(r.body.scored!.find((x) => x.address === s.address), s);
  assert(!("wallet" in r.body.scored!.find((x) => x.address === mallory.address)!));
  assertEquals(encodeMessage(r), round);
  // The flag on a record whose wallets are all zeros would be a second encoding: refused.
  const unsigned = round.slice(0, round.length - 64);
  const at = 80 + findBytes(unsigned.subarray(80), alice.publicKey);
  unsigned.fill(0, at, at + 32);
  expectReject(
    verifyMessage(await resign(alice, "webloco/round-record/v1", unsigned), opts),
    "malformed",
    "no scored peer has a wallet",
  );
  // Only round records carry wallets; a key is not its own wallet.
  const update = await sign(bob, updateBody);
  const flagged = update.slice(0, update.length - 64);
  flagged[7] = 0x02;
  expectReject(verifyMessage(await resign(bob, "webloco/update-announce/v1", flagged), OPTS), "malformed", "wallets");
  const e = await sign(alice, { ...body, scored: [{ ...plain[1], wallet: bob.address }] }).then(() => null, (e) => e);
  assert(e instanceof MessageError && e.message.includes("must differ"), String(e));
});

function findBytes(hay: Uint8Array, needle: Uint8Array): number {
  for (let i = 0; i + needle.length <= hay.length; i++) {
    if (needle.every((b, j) => hay[i + j] === b)) return i;
  }
  throw new Error("not found");
}
