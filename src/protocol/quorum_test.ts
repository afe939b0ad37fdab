import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady, type Signer } from "../identity/signer.ts";
import { localGenesis } from "./local_genesis.ts";
import {
  decodeCertificate,
  decodeMessage,
  DEFAULT_MAX_SKEW_MS,
  encodeCertificate,
  MAX_CERTIFICATE_BYTES,
  MAX_CERTIFICATE_VOTES,
  MAX_CONTRIBUTORS_LIMIT,
  MAX_SCORED,
  type RoundRecord,
  signMessage,
} from "../codec/messages.ts";
import { decodeSyncResponse, encodeSyncResponse } from "../net/sync_protocol.ts";
import { addressFromPublicKey } from "../identity/address.ts";
import { GenesisError, runIdOf, validateGenesis } from "./genesis.ts";
import {
  firstLiveWindow,
  giveUpAt,
  lastVoteAt,
  proposeAt,
  proposerOrder,
  QuorumTally,
  recordHash,
  relayMs,
  repeatMs,
  settledAt,
} from "./quorum.ts";
import { RecordLog, verifyRecord } from "./record_log.ts";
import { runContext } from "./run_context.ts";
import { MemoryStore } from "./memory_store.ts";
import { checkGossip } from "./gossip_rules.ts";
import { runTopics } from "../net/protocols.ts";
import { hex } from "../util/hex.ts";
import { VoteBook } from "./vote_book.ts";

await identityReady();

const T0 = 1_700_000_000_000;
const [alice, bob, charlie, dave] = ["//Alice", "//Bob", "//Charlie", "//Dave"].map((u) =>
  KeySigner.fromUri(u)
);
const validators = [alice.address, bob.address, charlie.address];
const genesis = localGenesis({
  validators,
  genesisTime: T0,
  windowMs: 10_000,
  quorum: { votes: 2, fallbackMs: 2_000 },
});
const ctx = runContext(genesis);
/** Window 6 is open: the tests' windows 3 to 7 are live. */
const clock = () => T0 + 65_000;

function record(window: number, salt: number): RoundRecord {
  return {
    kind: "round-record",
    window,
    modelHash: new Uint8Array(32).fill(1),
    nextModelHash: new Uint8Array(32).fill(10 + salt),
    contributors: [],
  };
}

function signAt(signer: Signer, body: RoundRecord | ReturnType<typeof voteBody>) {
  return signMessage(signer, { runId: ctx.runId, timestamp: T0 + 60_000, body });
}

function voteBody(window: number, recordBytes: Uint8Array) {
  return { kind: "record-vote" as const, window, recordHash: recordHash(recordBytes) };
}

const vote = (s: Signer, w: number, rec: Uint8Array) => signAt(s, voteBody(w, rec));

/** Sorted by key, as certificates carry them. */
function byKey(votes: { s: Signer; bytes: Uint8Array }[]): Uint8Array[] {
  return votes.sort((a, b) => (hex(a.s.publicKey) < hex(b.s.publicKey) ? -1 : 1))
    .map((v) => v.bytes);
}

function offer(t: QuorumTally, bytes: Uint8Array): Uint8Array | null {
  const m = decodeMessage(bytes);
  if (!m.ok) throw new Error(m.detail);
  return t.offer(m.message, bytes)?.bytes ?? null;
}

Deno.test("quorum genesis: absent keeps the run id, votes below a majority are refused", () => {
  const one = localGenesis({ validators: [alice.address], genesisTime: T0 });
  assert(!("quorum" in one), "no quorum field unless asked for");
  assertEquals(runIdOf(validateGenesis(structuredClone(one))), runIdOf(one));
  assert(hex(runIdOf(genesis)) !== hex(runIdOf({ ...genesis, quorum: undefined })));
  for (const votes of [0, 1, 4]) {
    assertThrows(
      () => validateGenesis({ ...structuredClone(genesis), quorum: { votes, fallbackMs: 2000 } }),
      GenesisError,
      "quorum.votes",
    );
  }
  assertThrows(
    () => validateGenesis({ ...structuredClone(genesis), quorum: { votes: 2, fallbackMs: 1 } }),
    GenesisError,
    "quorum.fallbackMs",
  );
});

Deno.test("quorum proposer order rotates by window, each next one a fallback later", () => {
  assertEquals(proposerOrder(validators, 0), validators);
  assertEquals(proposerOrder(validators, 4), [bob.address, charlie.address, alice.address]);
  const deadline = ctx.clock.windowEnd(4) + ctx.graceMs;
  assertEquals(proposeAt(ctx, 4, bob.address), deadline);
  assertEquals(proposeAt(ctx, 4, charlie.address), deadline + 2_000);
  assertEquals(proposeAt(ctx, 4, alice.address), deadline + 4_000);
  assertEquals(proposeAt(ctx, 4, dave.address), undefined);
});

Deno.test("quorum window is live until the last proposer's turn plus a fallback and a window", () => {
  // Window 3 ends at 40 s; grace 10% of 10 s; 3 validators × 2 s; one window.
  const end = T0 + 40_000, giveUp = end + ctx.graceMs + 3 * 2_000 + 10_000;
  assertEquals(giveUpAt(ctx, 3), giveUp);
  assertEquals(firstLiveWindow(ctx, giveUp - 1), 3, "live until its give-up time");
  assertEquals(firstLiveWindow(ctx, giveUp), 4, "then the next one");
  // A slow window 3 does not cost window 4: at window 5's start both 3 and 4 are still live.
  assertEquals(firstLiveWindow(ctx, T0 + 50_000), 3);
});

Deno.test("quorum certificate: a majority of distinct validators' votes makes a record count", async () => {
  const rec = await signAt(alice, record(3, 0));
  const [va, vb, vc] = await Promise.all([alice, bob, charlie].map((s) => vote(s, 3, rec)));
  const ok = verifyRecord(
    ctx,
    encodeCertificate({
      record: rec,
      votes: byKey([{ s: alice, bytes: va }, { s: bob, bytes: vb }]),
    }),
  );
  assert(typeof ok !== "string", `${ok}`);
  assertEquals(ok.record.window, 3);
  assertEquals(ok.sender, alice.address);
  assertEquals(new Set(ok.voters), new Set([alice.address, bob.address]));
  const all = encodeCertificate({
    record: rec,
    votes: byKey([{ s: alice, bytes: va }, { s: bob, bytes: vb }, { s: charlie, bytes: vc }]),
  });
  assertEquals(decodeCertificate(all).votes.length, 3);
  assert(typeof verifyRecord(ctx, all) !== "string");

  const refused = (votes: Uint8Array[], r = rec) => {
    const got = verifyRecord(ctx, encodeCertificate({ record: r, votes }));
    assert(typeof got === "string", "refused");
    return got;
  };
  // Minority: one vote (the proposer's own) of three.
  assert(refused([va]).startsWith("no quorum: 1 vote(s)"));
  // Duplicate: the same validator twice is one vote.
  assert(refused([va, va]).includes("distinct"));
  // Forged: a key that is not a validator cannot vote.
  assert(
    refused(byKey([{ s: alice, bytes: va }, { s: dave, bytes: await vote(dave, 3, rec) }]))
      .includes("unauthorized"),
  );
  // A vote for another record (or window) does not count for this one.
  const other = await signAt(bob, record(3, 1));
  assert(
    refused(byKey([{ s: alice, bytes: va }, { s: bob, bytes: await vote(bob, 3, other) }]))
      .includes("another record"),
  );
  assert(
    refused(byKey([{ s: alice, bytes: va }, { s: bob, bytes: await vote(bob, 4, rec) }]))
      .includes("window 4"),
  );
  // A flipped vote signature, and a bare record without votes.
  const bad = vb.slice();
  bad[bad.length - 1] ^= 1;
  assert(
    refused(byKey([{ s: alice, bytes: va }, { s: bob, bytes: bad }])).includes("bad-signature"),
  );
  assert((verifyRecord(ctx, rec) as string).startsWith("no quorum: a bare round record"));
  // A record signed by a non-validator, even with a quorum of votes.
  const forged = await signAt(dave, record(3, 2));
  assert(
    refused(
      byKey([
        { s: alice, bytes: await vote(alice, 3, forged) },
        { s: bob, bytes: await vote(bob, 3, forged) },
      ]),
      forged,
    ).includes("unauthorized"),
  );
});

Deno.test("quorum certificate of the largest record with the most validators' votes is served over sync", async () => {
  // The worst case the limits allow: 16 validators, a quorum of all, 64 contributors, 256
  // scored peers each with a wallet, a validation loss.
  const signers = Array.from(
    { length: MAX_CERTIFICATE_VOTES },
    (_, i) => KeySigner.fromUri(`//V${i}`),
  );
  const big = runContext(localGenesis({
    validators: signers.map((s) => s.address),
    genesisTime: T0,
    windowMs: 10_000,
    maxContributors: MAX_CONTRIBUTORS_LIMIT,
    quorum: { votes: MAX_CERTIFICATE_VOTES, fallbackMs: 2_000 },
  }));
  const key = (i: number, tag: number) => {
    const k = new Uint8Array(32).fill(tag);
    new DataView(k.buffer).setUint16(0, i);
    return addressFromPublicKey(k);
  };
  const rec = await signMessage(signers[0], {
    runId: big.runId,
    timestamp: T0 + 60_000,
    body: {
      ...record(5, 0),
      contributors: Array.from({ length: MAX_CONTRIBUTORS_LIMIT }, (_, i) => ({
        address: key(i, 1),
        payloadHash: new Uint8Array(32).fill(i),
      })),
      scored: Array.from({ length: MAX_SCORED }, (_, i) => ({
        address: key(i, 1),
        gradScore: 0.5,
        score: 0.25,
        verdict: "copy" as const,
        until: 9,
        other: key(i + 1, 1),
        wallet: key(i, 2),
      })),
      validLoss: 3.5,
    },
  });
  const votes = await Promise.all(
    signers.map((s) =>
      signMessage(s, { runId: big.runId, timestamp: T0 + 60_000, body: voteBody(5, rec) })
    ),
  );
  const cert = encodeCertificate({
    record: rec,
    votes: byKey(signers.map((s, i) => ({ s, bytes: votes[i] }))),
  });
  assertEquals(cert.length, MAX_CERTIFICATE_BYTES, "the largest certificate");
  const ok = verifyRecord(big, cert);
  assert(typeof ok !== "string", `${ok}`);
  assertEquals(ok.voters!.length, MAX_CERTIFICATE_VOTES);
  // Kept, served and read back by the sync protocol at its default limits.
  const log = await RecordLog.open(big, new MemoryStore());
  assert(await log.add(ok));
  const wire = encodeSyncResponse({ checkpoint: null, records: log.records(0, 10), more: false });
  const back = decodeSyncResponse(wire).records;
  assertEquals(back.length, 1);
  assert(typeof verifyRecord(big, back[0]) !== "string");
});

Deno.test("quorum certificate codec refuses malformed bytes with one line", async () => {
  const rec = await signAt(alice, record(3, 0));
  const cert = encodeCertificate({ record: rec, votes: [await vote(alice, 3, rec)] });
  assertEquals(decodeCertificate(cert).record, rec);
  assertThrows(() => decodeCertificate(cert.subarray(0, 8)), Error, "shorter than its header");
  assertThrows(() => decodeCertificate(cert.subarray(0, cert.length - 1)), Error, "header says");
  const zero = cert.slice();
  zero[4] = 0;
  assertThrows(() => decodeCertificate(zero), Error, "0 votes");
  const magic = cert.slice();
  magic[0] = 0;
  assertThrows(() => decodeCertificate(magic), Error, "bad magic");
  assertThrows(() => encodeCertificate({ record: rec, votes: [] }), Error, "1 to 16 votes");
});

Deno.test("quorum tally: of two conflicting records of a window at most one ever counts", async () => {
  const a = await signAt(alice, record(5, 0));
  const b = await signAt(bob, record(5, 1));
  const votes = new Map<string, Uint8Array>();
  for (const s of [alice, bob, charlie]) {
    for (const [name, r] of [["a", a], ["b", b]] as const) {
      votes.set(`${s.address}${name}`, await vote(s, 5, r));
    }
  }
  // Every way three honest validators can each vote once, in every arrival order: one
  // certificate at most, for the record a majority voted for.
  const signers = [alice, bob, charlie];
  for (let choice = 0; choice < 8; choice++) {
    const picks = signers.map((s, i) => ({ s, name: (choice >> i) & 1 ? "b" : "a" }));
    for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0]]) {
      const t = new QuorumTally(ctx, genesis.quorum!, clock);
      const certs: Uint8Array[] = [];
      for (
        const m of [
          a,
          b,
          ...order.map((i) => votes.get(`${picks[i].s.address}${picks[i].name}`)!),
        ]
      ) {
        const c = offer(t, m);
        if (c !== null) certs.push(c);
      }
      assertEquals(certs.length, 1, `choice ${choice}`);
      const r = verifyRecord(ctx, certs[0]);
      assert(typeof r !== "string", `${r}`);
      const majority = picks.filter((p) => p.name === "b").length >= 2 ? 11 : 10;
      assertEquals(r.record.nextModelHash[0], majority);
    }
  }
});

Deno.test("quorum tally: a validator voting for two records of a window counts for neither", async () => {
  const a = await signAt(alice, record(6, 0));
  const b = await signAt(bob, record(6, 1));
  const t = new QuorumTally(ctx, genesis.quorum!, clock);
  const doubled: string[] = [];
  t.onDoubleVote = (w, voter) => doubled.push(`${w} ${voter}`);
  for (const m of [a, b, await vote(charlie, 6, a), await vote(charlie, 6, b)]) {
    assertEquals(offer(t, m), null);
  }
  assertEquals(doubled, [`6 ${charlie.address}`]);
  // Alice alone for a: Charlie's vote no longer counts.
  assertEquals(offer(t, await vote(alice, 6, a)), null);
  const cert = offer(t, await vote(bob, 6, a));
  assert(cert !== null, "Alice and Bob make a quorum");
  assertEquals(
    new Set((verifyRecord(ctx, cert) as { voters: string[] }).voters),
    new Set([alice.address, bob.address]),
  );
  // A second proposal by the same validator for the window is dropped.
  const t2 = new QuorumTally(ctx, genesis.quorum!, clock);
  const a2 = await signAt(alice, record(6, 2));
  offer(t2, a);
  offer(t2, a2);
  offer(t2, await vote(alice, 6, a2));
  assertEquals(offer(t2, await vote(bob, 6, a2)), null);
});

/**
 * Honest validator `s` at head `H` after window 4 (the tests' records start from fill(1)):
 * votes for each proposal as it arrives if its vote book lets it, seeing the votes in `seen`.
 */
async function honestVoter(s: Signer, arrivals: Uint8Array[], seen: Uint8Array[] = []) {
  const book = new VoteBook(new MemoryStore());
  const tally = new QuorumTally(ctx, genesis.quorum!, clock);
  for (const m of seen) offer(tally, m);
  const votes: Uint8Array[] = [];
  for (const p of arrivals) {
    const d = decodeMessage(p);
    if (!d.ok || d.message.body.kind !== "round-record") throw new Error("not a proposal");
    const from = {
      head: d.message.body.modelHash,
      applied: 4,
      released: (w: number) => tally.cannotCount(w),
    };
    if (await book.take(d.message.body.window, recordHash(p), from)) {
      votes.push(await vote(s, d.message.body.window, p));
    }
  }
  return votes;
}

Deno.test("quorum: honest validators never make two records from one head count, in any windows", async () => {
  // Record 5 came late to some (its window given up there), record 6 from the same head H
  // came to others first. Whoever applies 6 skips 5 for good; whoever applies 5 cannot apply 6
  // (it starts from H): two certificates would fork the run.
  const r5 = await signAt(alice, record(5, 0));
  const r6 = await signAt(bob, record(6, 1));
  const signers = [alice, bob, charlie];
  for (let order = 0; order < 8; order++) {
    // Each validator gets both proposals, in its own order, and sees no other's vote in time
    // (the worst case: each goes on alone).
    const cast = await Promise.all(
      signers.map((s, i) => honestVoter(s, (order >> i) & 1 ? [r6, r5] : [r5, r6])),
    );
    assert(cast.every((v) => v.length === 1), `order ${order}: one vote from the head each`);
    const t = new QuorumTally(ctx, genesis.quorum!, clock);
    const certs = [r5, r6, ...cast.flat()].map((m) => offer(t, m)).filter((c) => c !== null);
    // Three voters, two records: one has a majority, exactly one counts.
    assertEquals(certs.length, 1, `order ${order}`);
  }
});

Deno.test("quorum: a window whose votes split so no record can count frees its voters", async () => {
  const r5 = [alice, bob, charlie].map((s, i) => signAt(s, record(5, i)));
  const proposals = await Promise.all(r5);
  // Each voted for its own record of window 5: no record of 5 can ever reach two votes.
  const own = await Promise.all(
    [alice, bob, charlie].map((s, i) => honestVoter(s, [proposals[i]])),
  );
  const t = new QuorumTally(ctx, genesis.quorum!, clock);
  for (const m of [...proposals, own[0][0], own[1][0]]) assertEquals(offer(t, m), null);
  assertEquals(t.cannotCount(5), false, "the third vote may still make a record of 5 count");
  assertEquals(offer(t, own[2][0]), null);
  assertEquals(t.cannotCount(5), true, "three votes for three records: none can count");
  // A double voter is one more open vote: with it, two votes for a record of 6 may still be
  // made up (it may side with either).
  const r6 = await signAt(alice, record(6, 0)), r6b = await signAt(bob, record(6, 1));
  for (const m of [r6, r6b, await vote(alice, 6, r6), await vote(bob, 6, r6b)]) offer(t, m);
  for (const m of [await vote(charlie, 6, r6), await vote(charlie, 6, r6b)]) offer(t, m);
  assertEquals(t.cannotCount(6), false);
  assertEquals(t.cannotCount(7), false, "a window nothing was seen of proves nothing");
  // Settled (its give-up time, one window and half a fallback later): a validator not seen
  // by then did not vote (none signs one after its last vote time), for a node that watched
  // the window throughout; a restarted one may have missed votes sent before it.
  assertEquals(lastVoteAt(ctx, 5), giveUpAt(ctx, 5));
  assertEquals(settledAt(ctx, 5), giveUpAt(ctx, 5) + 10_000 + 1_000);
  const late = new QuorumTally(ctx, genesis.quorum!, () => settledAt(ctx, 5));
  for (const m of [...proposals, own[0][0], own[1][0]]) offer(late, m);
  assertEquals(late.cannotCount(5), true, "two votes for two records, the third validator silent");
  assertEquals(late.cannotCount(5, false), false, "not after a restart");
  // Seeing the split, each is free to vote for the record of window 6 from the same head.
  const r6c = await signAt(bob, record(6, 2));
  const seen = [...proposals, ...own.flat()];
  const next = await Promise.all(
    [alice, bob, charlie].map((s, i) => honestVoter(s, [proposals[i], r6c], seen)),
  );
  assert(next.every((v) => v.length === 2), "each votes for its record of 5, then that of 6");
  // One that saw only two of the votes stays bound to its own record of 5.
  assertEquals((await honestVoter(alice, [proposals[0], r6c], seen.slice(0, 5))).length, 1);
  const t2 = new QuorumTally(ctx, genesis.quorum!, clock);
  const certs = [r6c, ...next.map((v) => v[1])].map((m) => offer(t2, m)).filter((c) => c !== null);
  assertEquals(certs.length, 1, "window 6 counts");
});

Deno.test("quorum record log keeps the first record that counts, from gossip or sync", async () => {
  const log = await RecordLog.open(ctx, new MemoryStore(), () => {}, clock);
  const a = await signAt(alice, record(7, 0));
  const b = await signAt(bob, record(7, 1));
  const got = [];
  for (const m of [a, b, await vote(alice, 7, a)]) {
    const d = decodeMessage(m);
    assert(d.ok);
    assertEquals(log.fromGossip(d.message, m), undefined, "a proposal and one vote do not count");
    got.push(d);
  }
  const vb = await vote(bob, 7, a);
  const d = decodeMessage(vb);
  assert(d.ok);
  const r = log.fromGossip(d.message, vb);
  assert(r !== undefined, "the second vote makes it count");
  assert(await log.add(r));
  // The conflicting record with its own quorum (two validators voting twice) is not kept.
  const other = verifyRecord(
    ctx,
    encodeCertificate({
      record: b,
      votes: byKey([{ s: bob, bytes: await vote(bob, 7, b) }, {
        s: charlie,
        bytes: await vote(charlie, 7, b),
      }]),
    }),
  );
  assert(typeof other !== "string", `${other}`);
  assertEquals(await log.add(other), false);
  assertEquals(log.get(7)!.record.nextModelHash[0], 10);
  // Served and reopened as certificates.
  const served = log.records(0, 10);
  assertEquals(served.length, 1);
  assert(typeof verifyRecord(ctx, served[0]) !== "string");
});

Deno.test("quorum record log makes a gossip certificate from the verified messages, once", async () => {
  const log = await RecordLog.open(ctx, new MemoryStore(), () => {}, clock);
  const a = await signAt(alice, record(6, 0));
  const offered = (bytes: Uint8Array) => {
    const d = decodeMessage(bytes);
    assert(d.ok);
    return log.fromGossip(d.message, bytes);
  };
  assertEquals(offered(a), undefined);
  assertEquals(offered(await vote(alice, 6, a)), undefined);
  // The gossip rules verified bob's vote on arrival; the log does not verify it again (a
  // copy with a flipped signature bit stands for a message checked once, upstream).
  const vb = await vote(bob, 6, a);
  vb[vb.length - 1] ^= 1;
  const r = offered(vb);
  assert(r !== undefined, "a quorum of offered messages makes the certificate");
  assertEquals(r.sender, alice.address);
  assertEquals(r.record.window, 6);
  const ascending = [alice, bob].sort((x, y) => (hex(x.publicKey) < hex(y.publicKey) ? -1 : 1));
  assertEquals(r.voters, ascending.map((s) => s.address), "voters ascending by key");
  assert(await log.add(r));
  // Once made, the window is done: a third vote makes no second certificate.
  assertEquals(offered(await vote(charlie, 6, a)), undefined);
});

Deno.test("quorum gossip: votes travel on the rounds topic only in a run with a quorum", async () => {
  const now = T0 + 60_000;
  const topics = runTopics(ctx.runId);
  const rec = await signAt(alice, record(3, 0));
  const v = await vote(bob, 3, rec);
  const ok = checkGossip(ctx, topics, topics.rounds, v, now);
  assert(typeof ok !== "string", `${ok}`);
  const f = await vote(dave, 3, rec);
  assert((checkGossip(ctx, topics, topics.rounds, f, now) as string).startsWith("unauthorized"));
  assert(typeof checkGossip(ctx, topics, topics.updates, v, now) === "string", "not on updates");
  const single = runContext(localGenesis({ validators, genesisTime: T0, windowMs: 10_000 }));
  const t1 = runTopics(single.runId);
  const v1 = await signMessage(bob, {
    runId: single.runId,
    timestamp: now,
    body: voteBody(3, rec),
  });
  assert((checkGossip(single, t1, t1.rounds, v1, now) as string).includes("without a quorum"));
});

Deno.test("quorum tally: far windows are ignored and cannot crowd out the open one", async () => {
  const t = new QuorumTally(ctx, genesis.quorum!, clock);
  // A validator flooding votes and proposals for windows far ahead or far behind.
  for (const w of [8, 100, 1_000, 2 ** 31]) {
    const r = await signAt(charlie, record(w, 0));
    assertEquals(offer(t, r), null);
    assertEquals(offer(t, await vote(charlie, w, r)), null);
    assertEquals(offer(t, await vote(alice, w, r)), null, `window ${w} is not live`);
  }
  const a = await signAt(alice, record(6, 0));
  offer(t, a);
  offer(t, await vote(alice, 6, a));
  assert(offer(t, await vote(bob, 6, a)) !== null, "the open window still certifies");
});

Deno.test("quorum relays of a proposal stay under the gossip rate limit at 16 validators", () => {
  for (const fallbackMs of [100, 2_000, 3_000, 60_000]) {
    const q = { votes: 9, fallbackMs };
    for (let n = 1; n <= 16; n++) {
      // Against the proposer: n voters' relays plus its own re-announced votes, per second.
      const perSecond = n * 1_000 / relayMs(q, n) + 1_000 / repeatMs(q);
      assert(perSecond <= 2, `n ${n}, fallback ${fallbackMs}: ${perSecond}/s`);
    }
  }
  // At a 2 s fallback each voter still relays again while the proposal is fresh for gossip.
  assert(relayMs({ votes: 9, fallbackMs: 2_000 }, 16) < DEFAULT_MAX_SKEW_MS / 2);
});
