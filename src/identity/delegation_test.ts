import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../testing/assert.ts";
import { u8aWrapBytes } from "@polkadot/util";
import { sr25519PairFromSeed, sr25519Sign } from "@polkadot/util-crypto";
import { KeySigner } from "./key_signer.ts";
import { identityReady } from "./signer.ts";
import {
  checkDelegation,
  createDelegation,
  DelegatedSigner,
  DELEGATION_BYTES,
  delegationText,
  MAX_DELEGATION_MS,
  WalletBook,
} from "./delegation.ts";
import { addressFromPublicKey } from "./address.ts";
import { decodeMessage, type MessageBody, signMessage } from "../codec/messages.ts";
import { runTopics } from "../net/protocols.ts";
import { checkGossip, gossipRules, type RejectCounts } from "../protocol/gossip_rules.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { runContext } from "../protocol/run_context.ts";
import { creditTable } from "../protocol/credit.ts";
import { GAUNTLET_DEFAULTS } from "../protocol/gauntlet_spec.ts";

await identityReady();

const GENESIS_TIME = 1_700_000_000_000;
const validator = KeySigner.fromUri("//Alice");
const wallet = KeySigner.fromUri("//Dave");
const thief = KeySigner.fromUri("//Eve");
const session = KeySigner.fromSeed(new Uint8Array(32).fill(5));
const ctx = runContext(
  localGenesis({ validators: [validator.address], genesisTime: GENESIS_TIME }),
);
const other = runContext(
  localGenesis({ validators: [validator.address], genesisTime: GENESIS_TIME, name: "other" }),
);
const topics = runTopics(ctx.runId);
const NOW = ctx.clock.windowStart(5) + 1_000;
const HOUR = 3600_000;

const announce = (window = 5): MessageBody => ({
  kind: "update-announce",
  window,
  modelHash: new Uint8Array(32).fill(1),
  payloadHash: new Uint8Array(32).fill(2),
  size: 4096,
});

/** A delegation of `key` in `runId`, signed by `by` (who claims to be `claimed`). */
function delegate(
  o: {
    by?: KeySigner;
    claimed?: KeySigner;
    key?: KeySigner;
    runId?: Uint8Array;
    from?: number;
    until?: number;
  } = {},
): Promise<Uint8Array> {
  return createDelegation({
    runId: o.runId ?? ctx.runId,
    session: (o.key ?? session).publicKey,
    wallet: (o.claimed ?? wallet).publicKey,
    validFrom: o.from ?? NOW - HOUR,
    validUntil: o.until ?? NOW + HOUR,
    sign: (text) => (o.by ?? wallet).sign(text),
  });
}

/** Builds a delegation without createDelegation's own check (what a forger would send). */
async function forged(by: KeySigner, claimed: KeySigner, from = NOW - HOUR, until = NOW + HOUR) {
  const bytes = new Uint8Array(DELEGATION_BYTES);
  const v = new DataView(bytes.buffer);
  bytes.set(claimed.publicKey, 0);
  v.setBigUint64(32, BigInt(from), true);
  v.setBigUint64(40, BigInt(until), true);
  const text = delegationText(ctx.runId, session.publicKey, claimed.publicKey, from, until);
  bytes.set(await by.sign(text), 48);
  return bytes;
}

/** A message from `session` carrying `delegation` (no check on the way out). */
function carried(delegation: Uint8Array, body = announce()): Promise<Uint8Array> {
  return signMessage({ ...session, sign: (m) => session.sign(m), delegation }, {
    runId: ctx.runId,
    timestamp: NOW,
    body,
  });
}

Deno.test("delegation a message signed by a session key carries its wallet's delegation and is accepted", async () => {
  const signer = new DelegatedSigner(session, await delegate(), ctx.runId);
  assertEquals(signer.wallet, wallet.address);
  assertEquals(signer.address, session.address);
  const bytes = await signMessage(signer, { runId: ctx.runId, timestamp: NOW, body: announce() });
  assertEquals(bytes.length, 216 + DELEGATION_BYTES);
  const r = checkGossip(ctx, topics, topics.updates, bytes, NOW);
  assert(typeof r !== "string", String(r));
  assertEquals(r.sender, session.address);
  const c = checkDelegation(r.delegation!, ctx.runId, r.senderKey, NOW);
  assert(c.ok && c.wallet === wallet.address, JSON.stringify(c));
  // Without a delegation the encoding is today's: 216 bytes, no field.
  const plain = await signMessage(session, { runId: ctx.runId, timestamp: NOW, body: announce() });
  assertEquals(plain.length, 216);
  const d = decodeMessage(plain);
  assert(d.ok && d.message.delegation === undefined);
});

Deno.test("delegation a wallet extension's <Bytes>-wrapped signature is a valid delegation", async () => {
  const pair = sr25519PairFromSeed(new Uint8Array(32).fill(9));
  const bytes = await createDelegation({
    runId: ctx.runId,
    session: session.publicKey,
    wallet: pair.publicKey,
    validFrom: NOW - HOUR,
    validUntil: NOW + HOUR,
    sign: (text) => Promise.resolve(sr25519Sign(u8aWrapBytes(text), pair)),
  });
  const r = checkDelegation(bytes, ctx.runId, session.publicKey, NOW);
  assert(r.ok);
  assertEquals(r.wallet, addressFromPublicKey(pair.publicKey));
  // The text the extension shows names the run, both keys and the validity.
  const text = new TextDecoder().decode(
    delegationText(ctx.runId, session.publicKey, pair.publicKey, 0, HOUR),
  );
  assert(text.includes(ctx.runIdHex) && text.includes(session.address), text);
  assert(text.includes("valid from 1970-01-01T00:00:00.000Z until 1970-01-01T01:00:00.000Z"));
});

Deno.test("delegation forged, moved or expired delegations are refused by the gossip rules with their reason", async () => {
  const counts: RejectCounts = {};
  const why: string[] = [];
  const rules = gossipRules(ctx, () => topics, counts, (_t, _f, w) => why.push(w), () => NOW);
  // Eve signs a delegation claiming Dave's wallet.
  assertEquals(rules(topics.updates, await carried(await forged(thief, wallet)), "p"), "reject");
  assert(why.at(-1)!.startsWith(`bad-delegation: not signed by ${wallet.address}`), why.at(-1));
  // Dave's real delegation of another session key, carried by this one.
  const elsewhere = await delegate({ key: thief });
  assertEquals(rules(topics.updates, await carried(elsewhere), "p"), "reject");
  assert(why.at(-1)!.startsWith("bad-delegation:"), why.at(-1));
  // Dave's delegation for another run.
  assertEquals(
    rules(topics.updates, await carried(await delegate({ runId: other.runId })), "p"),
    "reject",
  );
  assert(why.at(-1)!.startsWith("bad-delegation:"), why.at(-1));
  // Expired an hour ago, and not valid yet.
  const expired = await delegate({ from: NOW - 3 * HOUR, until: NOW - HOUR });
  assertEquals(rules(topics.updates, await carried(expired), "p"), "reject");
  assert(
    why.at(-1)!.startsWith(`expired-delegation: ${wallet.address}'s delegation ended at`),
    why.at(-1),
  );
  const early = await delegate({ from: NOW + HOUR, until: NOW + 2 * HOUR });
  assertEquals(rules(topics.updates, await carried(early), "p"), "reject");
  assert(why.at(-1)!.startsWith("expired-delegation:"), why.at(-1));
  assertEquals(counts, { "bad-delegation": 3, "expired-delegation": 2 });
  // A valid one passes the same rules.
  assertEquals(rules(topics.updates, await carried(await delegate()), "p"), "accept");
});

Deno.test("delegation the session's signature covers the delegation; round records are never delegated", async () => {
  const bytes = await carried(await delegate());
  const tampered = bytes.slice();
  tampered[bytes.length - 64 - DELEGATION_BYTES + 40] ^= 1; // valid until, inside the signature
  const r = checkGossip(ctx, topics, topics.updates, tampered, NOW);
  assert(typeof r === "string" && r.startsWith("bad-signature"), String(r));
  const record: MessageBody = {
    kind: "round-record",
    window: 4,
    modelHash: new Uint8Array(32),
    nextModelHash: new Uint8Array(32),
    contributors: [],
  };
  const d = await delegate();
  await assertRejectsMessage(() => carried(d, record), "not delegated");
});

async function assertRejectsMessage(fn: () => Promise<unknown>, includes: string) {
  try {
    await fn();
  } catch (e) {
    assert((e as Error).message.includes(includes), (e as Error).message);
    return;
  }
  throw new Error(`expected an error with "${includes}"`);
}

Deno.test("delegation createDelegation and DelegatedSigner refuse what does not verify", async () => {
  // A wallet that signs with another account: caught before any node sees it.
  await assertRejectsMessage(() => delegate({ by: thief }), "does not verify");
  assertThrows(
    () => new DelegatedSigner(thief, new Uint8Array(DELEGATION_BYTES), ctx.runId),
    RangeError,
    "bad-delegation",
  );
  await assertRejectsMessage(
    () => delegate({ from: NOW, until: NOW + MAX_DELEGATION_MS + 1 }),
    "at most",
  );
});

Deno.test("delegation credit goes to the delegating wallet, summed over its session keys", async () => {
  const book = new WalletBook();
  const rules = gossipRules(ctx, () => topics, {}, () => {}, () => NOW, undefined, book);
  assertEquals(rules(topics.updates, await carried(await delegate()), "p"), "accept");
  assertEquals(book.ownerOf(session.address), wallet.address);
  assertEquals(book.ownerOf(thief.address), thief.address);
  const t = creditTable([session.address, thief.address], GAUNTLET_DEFAULTS, book.ownerOf);
  assertEquals(t.map((c) => c.address), [wallet.address, thief.address]);
  assertEquals(t[0].share, creditTable(["a", "b"], GAUNTLET_DEFAULTS)[0].share);
  // Two session keys of one wallet: one row with both shares.
  const both = creditTable(["s1", "s2"], GAUNTLET_DEFAULTS, () => wallet.address);
  assertEquals(both.length, 1);
  assertAlmostEquals(both[0].share, 1, 1e-12);
});
