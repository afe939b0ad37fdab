import { assert, assertEquals } from "../testing/assert.ts";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { DEFAULT_MAX_UPDATE_BYTES } from "../codec/update_codec.ts";
import { Rng } from "../util/rng.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady, type Signer } from "../identity/signer.ts";
import { runTopics } from "../net/protocols.ts";
import { localGenesis } from "./local_genesis.ts";
import {
  type Message,
  type MessageBody,
  type PeerAnnounceBody,
  peerBindingBytes,
  signMessage,
} from "../codec/messages.ts";
import { checkGossip, gossipRules, type RejectCounts, topicKinds } from "./gossip_rules.ts";
import { runContext } from "./run_context.ts";
import { RateLimiter } from "./rate_limit.ts";
import { createDelegation, DelegatedSigner } from "../identity/delegation.ts";

await identityReady();

const GENESIS_TIME = 1_700_000_000_000;
const alice = KeySigner.fromUri("//Alice"); // the genesis validator
const bob = KeySigner.fromUri("//Bob");
const ctx = runContext(localGenesis({ validators: [alice.address], genesisTime: GENESIS_TIME }));
const otherCtx = runContext(
  localGenesis({ validators: [alice.address], genesisTime: GENESIS_TIME, name: "other" }),
);
const topics = runTopics(ctx.runId);
/** A fixed time inside window 5. */
const NOW = ctx.clock.windowStart(5) + 12_345;
const libp2pKey = await generateKeyPair("Ed25519");

function hash32(seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: 32 }, () => rng.int(256));
}

function updateAnnounce(window: number, size = 4096): MessageBody {
  return {
    kind: "update-announce",
    window,
    modelHash: hash32(1),
    payloadHash: hash32(2 + window),
    size,
  };
}

function roundRecord(window: number): MessageBody {
  return {
    kind: "round-record",
    window,
    modelHash: hash32(10),
    nextModelHash: hash32(11),
    contributors: [{ address: bob.address, payloadHash: hash32(12) }],
  };
}

async function peerAnnounce(signer: Signer, runId = ctx.runId): Promise<PeerAnnounceBody> {
  return {
    kind: "peer-announce",
    peerKey: libp2pKey.publicKey.raw,
    peerSignature: await libp2pKey.sign(peerBindingBytes(runId, signer.publicKey)),
    addresses: ["/ip4/127.0.0.1/tcp/4001/ws"],
    capabilities: ["train", "serve-payloads"],
  };
}

function sign(
  body: MessageBody,
  o: { signer?: Signer; runId?: Uint8Array; timestamp?: number } = {},
): Promise<Uint8Array> {
  return signMessage(o.signer ?? bob, {
    runId: o.runId ?? ctx.runId,
    timestamp: o.timestamp ?? NOW - 2_000,
    body,
  });
}

function accepts(topic: string, data: Uint8Array, now = NOW): Message {
  const r = checkGossip(ctx, topics, topic, data, now);
  if (typeof r === "string") throw new Error(`refused: ${r}`);
  return r;
}

function rejects(topic: string, data: Uint8Array, reason: string, now = NOW): string {
  const r = checkGossip(ctx, topics, topic, data, now);
  assert(typeof r === "string", `expected "${reason}", accepted a ${(r as Message).body?.kind}`);
  assert(r.startsWith(`${reason}: `), `expected "${reason}: …", got "${r}"`);
  return r;
}

Deno.test("topicKinds maps each topic of the run to its message kinds", () => {
  const kinds = topicKinds(topics);
  assertEquals(kinds.get(topics.peers), ["peer-announce"]);
  assertEquals(kinds.get(topics.updates), ["update-announce"]);
  assertEquals(kinds.get(topics.rounds), ["round-record", "record-vote"]);
  assertEquals(kinds.size, 3);
});

Deno.test("checkGossip accepts update announcements for the current window and its neighbours", async () => {
  assertEquals(ctx.clock.windowAt(NOW), 5);
  for (const w of [4, 5, 6]) {
    const m = accepts(topics.updates, await sign(updateAnnounce(w)));
    assertEquals(m.sender, bob.address);
    assert(m.body.kind === "update-announce" && m.body.window === w, `window ${w}`);
  }
  // The timestamp may be a little off either way.
  accepts(topics.updates, await sign(updateAnnounce(5), { timestamp: NOW + 30_000 }));
  accepts(topics.updates, await sign(updateAnnounce(5), { timestamp: NOW - 30_000 }));
});

Deno.test("checkGossip accepts a peer announcement bound to its libp2p key", async () => {
  const m = accepts(topics.peers, await sign(await peerAnnounce(bob)));
  assert(m.body.kind === "peer-announce", "a peer announcement");
  assertEquals(m.body.peerId, libp2pKey.publicKey.toString());
  assertEquals(m.body.addresses, ["/ip4/127.0.0.1/tcp/4001/ws"]);
});

Deno.test("checkGossip accepts a round record from the genesis validator", async () => {
  const m = accepts(topics.rounds, await sign(roundRecord(4), { signer: alice }));
  assertEquals(m.sender, alice.address);
  assert(m.body.kind === "round-record" && m.body.window === 4, "window 4's record");
});

Deno.test("checkGossip refuses update announcements for other windows", async () => {
  for (const w of [9, 3, 7, 0]) {
    const why = rejects(topics.updates, await sign(updateAnnounce(w)), "wrong-window");
    assert(why.includes(`window ${w}`), why);
  }
  // At window 0 there is no window −1: 0 and 1 pass, 2 does not.
  const early = ctx.clock.windowStart(0) + 100;
  accepts(topics.updates, await sign(updateAnnounce(0), { timestamp: early }), early);
  accepts(topics.updates, await sign(updateAnnounce(1), { timestamp: early }), early);
  rejects(
    topics.updates,
    await sign(updateAnnounce(2), { timestamp: early }),
    "wrong-window",
    early,
  );
});

Deno.test("checkGossip refuses messages of another run", async () => {
  rejects(topics.updates, await sign(updateAnnounce(5), { runId: otherCtx.runId }), "unknown-run");
  rejects(
    topics.rounds,
    await sign(roundRecord(4), { signer: alice, runId: otherCtx.runId }),
    "unknown-run",
  );
  rejects(
    topics.peers,
    await sign(await peerAnnounce(bob, otherCtx.runId), { runId: otherCtx.runId }),
    "unknown-run",
  );
});

Deno.test("checkGossip refuses bad signatures", async () => {
  const zeroed = await sign(updateAnnounce(5));
  zeroed.fill(0, zeroed.length - 64);
  rejects(topics.updates, zeroed, "bad-signature");
  const record = await sign(roundRecord(4), { signer: alice });
  record.fill(0, record.length - 64);
  rejects(topics.rounds, record, "bad-signature");
  // A body changed after signing.
  const changed = await sign(updateAnnounce(5));
  changed[100] ^= 1;
  rejects(topics.updates, changed, "bad-signature");
  // A libp2p key bound to another sender (Bob's binding, announced by Alice).
  const stolen = await sign(await peerAnnounce(bob), { signer: alice });
  rejects(topics.peers, stolen, "bad-signature");
  // A libp2p binding for another run.
  rejects(topics.peers, await sign(await peerAnnounce(bob, otherCtx.runId)), "bad-signature");
});

Deno.test("checkGossip refuses truncated and random bytes as malformed", async () => {
  const valid = await sign(updateAnnounce(5));
  for (const n of [0, 1, 10, 80, 143, valid.length - 1]) {
    rejects(topics.updates, valid.subarray(0, n), "malformed");
  }
  const extended = new Uint8Array(valid.length + 1);
  extended.set(valid);
  rejects(topics.updates, extended, "oversized"); // longer than any update announcement
  const rng = new Rng(7);
  for (let i = 0; i < 50; i++) {
    const junk = Uint8Array.from({ length: 1 + rng.int(400) }, () => rng.int(256));
    for (const topic of [topics.peers, topics.updates, topics.rounds]) {
      rejects(topic, junk, "malformed");
    }
  }
});

Deno.test("checkGossip refuses an announcement of an oversized payload", async () => {
  accepts(topics.updates, await sign(updateAnnounce(5, DEFAULT_MAX_UPDATE_BYTES)));
  const why = rejects(
    topics.updates,
    await sign(updateAnnounce(5, DEFAULT_MAX_UPDATE_BYTES + 1)),
    "oversized",
  );
  assert(why.includes(String(DEFAULT_MAX_UPDATE_BYTES + 1)), why);
});

Deno.test("checkGossip refuses stale and future timestamps", async () => {
  for (const dt of [-600_000, 600_000, -61_000, 61_000]) {
    rejects(topics.updates, await sign(updateAnnounce(5), { timestamp: NOW + dt }), "stale");
    rejects(
      topics.rounds,
      await sign(roundRecord(4), { signer: alice, timestamp: NOW + dt }),
      "stale",
    );
    rejects(topics.peers, await sign(await peerAnnounce(bob), { timestamp: NOW + dt }), "stale");
  }
});

Deno.test("checkGossip refuses a round record from a non-validator", async () => {
  const why = rejects(topics.rounds, await sign(roundRecord(4), { signer: bob }), "unauthorized");
  assert(why.includes(bob.address), why);
});

Deno.test("checkGossip refuses a message on the wrong topic", async () => {
  const update = await sign(updateAnnounce(5));
  const record = await sign(roundRecord(5), { signer: alice });
  const peer = await sign(await peerAnnounce(bob));
  rejects(topics.rounds, update, "wrong-topic");
  rejects(topics.peers, update, "wrong-topic");
  rejects(topics.updates, record, "wrong-topic");
  rejects(topics.peers, record, "wrong-topic");
  rejects(topics.updates, peer, "wrong-topic");
  rejects(topics.rounds, peer, "wrong-topic");
  // Topics of another run or unknown names are refused, never accepted.
  for (const topic of [runTopics(otherCtx.runId).updates, "/webloco/other", ""]) {
    const r = checkGossip(ctx, topics, topic, update, NOW);
    assert(typeof r === "string", `accepted on ${JSON.stringify(topic)}`);
  }
});

Deno.test("gossipRules counts rejections by reason and reports each", async () => {
  const counts: RejectCounts = {};
  const reports: [string, string, string][] = [];
  const validate = gossipRules(
    ctx,
    () => topics,
    counts,
    (topic, from, why) => reports.push([topic, from, why]),
    () => NOW,
  );
  const good = await sign(updateAnnounce(5));
  assertEquals(await validate(topics.updates, good, "peerA"), "accept");
  assertEquals(
    await validate(topics.rounds, await sign(roundRecord(4), { signer: alice }), "peerA"),
    "accept",
  );
  assertEquals(
    await validate(topics.peers, await sign(await peerAnnounce(bob)), "peerA"),
    "accept",
  );
  assertEquals(counts, {});
  assertEquals(reports, []);

  assertEquals(await validate(topics.updates, await sign(updateAnnounce(9)), "peerB"), "reject");
  assertEquals(await validate(topics.updates, await sign(updateAnnounce(8)), "peerB"), "reject");
  assertEquals(await validate(topics.updates, new Uint8Array(3), "peerC"), "reject");
  assertEquals(
    await validate(topics.rounds, await sign(roundRecord(4), { signer: bob }), "peerD"),
    "reject",
  );
  assertEquals(await validate(topics.rounds, good, "peerE"), "reject");
  assertEquals(await validate("/webloco/nope", good, "peerF"), "reject");
  assertEquals(counts, {
    "wrong-window": 2,
    "malformed": 1,
    "unauthorized": 1,
    "wrong-topic": 1,
    "unknown-topic": 1,
  });
  assertEquals(reports.length, 6);
  assertEquals(reports[0][0], topics.updates);
  assertEquals(reports[0][1], "peerB");
  assert(reports[0][2].startsWith("wrong-window: "), reports[0][2]);
  assertEquals(reports.map((r) => r[1]), ["peerB", "peerB", "peerC", "peerD", "peerE", "peerF"]);
  for (const [, , why] of reports) {
    assert(/^[a-z-]+: ./.test(why), `"<reason>: <detail>": ${why}`);
  }
});

Deno.test("gossipRules reads the clock and the topics on every message", async () => {
  const counts: RejectCounts = {};
  let now = NOW;
  let current = topics;
  const validate = gossipRules(ctx, () => current, counts, undefined, () => now);
  const w5 = await sign(updateAnnounce(5));
  assertEquals(await validate(topics.updates, w5, "p"), "accept");
  now = ctx.clock.windowStart(7) + 1_000; // window 7: window 5 is too old, and so is the timestamp
  assertEquals(await validate(topics.updates, w5, "p"), "reject");
  now = NOW;
  current = runTopics(otherCtx.runId);
  assertEquals(await validate(topics.updates, w5, "p"), "reject");
  assertEquals(counts, { "wrong-window": 1, "unknown-topic": 1 });
});

Deno.test("gossipRules holds each sender to its rate and reports a flood once per period", async () => {
  const counts: RejectCounts = {};
  const reports: string[] = [];
  let now = NOW;
  const limiter = new RateLimiter({ perSecond: 2, burst: 3, maxKeys: 100, reportEveryMs: 1_000 });
  const validate = gossipRules(
    ctx,
    () => topics,
    counts,
    (_topic, _from, why) => reports.push(why),
    () => now,
    limiter,
  );
  // Bob floods 200 distinct valid announcements a second for 2 s, relayed by two peers.
  const verdicts: string[] = [];
  for (let i = 0; i < 400; i++) {
    now = NOW + i * 5;
    const bytes = await sign(updateAnnounce(5), { timestamp: NOW - 2_000 + i });
    verdicts.push(await validate(topics.updates, bytes, i % 2 ? "relayA" : "relayB"));
  }
  const accepted = verdicts.filter((v) => v === "accept").length;
  // The burst (3), then 2 a second over ~2 s.
  assert(accepted >= 6 && accepted <= 8, `accepted ${accepted}`);
  assert(!verdicts.includes("reject"), "a valid message over the rate is ignored, not rejected");
  assertEquals(counts["rate-limited"], 400 - accepted);
  assertEquals(reports.length, 2, `one line per second: ${reports.join(" | ")}`);
  for (const why of reports) {
    assert(why.startsWith(`rate-limited: ${bob.address} `), why);
    assert(/\d+ message\(s\) dropped/.test(why), why);
  }
  // Another identity is not held up by Bob's flood.
  assertEquals(
    await validate(topics.rounds, await sign(roundRecord(4), { signer: alice }), "relayA"),
    "accept",
  );
  // An invalid message is refused before it can spend a token, and reported each time.
  assertEquals(await validate(topics.updates, await sign(updateAnnounce(9)), "relayA"), "reject");
  assertEquals(counts["wrong-window"], 1);
  assertEquals(reports.length, 3);
});

Deno.test("gossipRules counts a delegated sender's rate against its wallet: many session keys, one budget", async () => {
  const wallet = KeySigner.fromUri("//Wallet");
  const delegated = await Promise.all([1, 2, 3, 4].map(async (i) => {
    const key = KeySigner.fromUri(`//session${i}`);
    const delegation = await createDelegation({
      runId: ctx.runId,
      session: key.publicKey,
      wallet: wallet.publicKey,
      validFrom: NOW - 3_600_000,
      validUntil: NOW + 3_600_000,
      sign: (text) => wallet.sign(text),
    });
    return new DelegatedSigner(key, delegation, ctx.runId);
  }));
  const counts: RejectCounts = {};
  const reports: string[] = [];
  const validate = gossipRules(
    ctx,
    () => topics,
    counts,
    (_topic, _from, why) => reports.push(why),
    () => NOW,
    new RateLimiter({ perSecond: 1, burst: 4, maxKeys: 100, reportEveryMs: 1_000 }),
  );
  // Four session keys, two messages each, all at one instant: the wallet's burst is 4.
  const verdicts: string[] = [];
  for (let i = 0; i < 8; i++) {
    const bytes = await sign(updateAnnounce(5), {
      signer: delegated[i % 4],
      timestamp: NOW - 2_000 + i,
    });
    verdicts.push(await validate(topics.updates, bytes, "relayA"));
  }
  assertEquals(verdicts, [...Array(4).fill("accept"), ...Array(4).fill("ignore")]);
  assertEquals(counts["rate-limited"], 4);
  assert(reports[0].startsWith(`rate-limited: ${wallet.address} `), reports[0]);
  // A key of its own keeps its own budget.
  assertEquals(await validate(topics.updates, await sign(updateAnnounce(5)), "relayA"), "accept");
});
