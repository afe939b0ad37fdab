/**
 * The rules of a run with several validators (a genesis `quorum`, docs/VALIDATORS.md): who
 * proposes a window's round record when, which votes make a record count, and the tally that
 * turns gossip (proposals and votes) into round certificates. Runtime-neutral and pure but
 * for the clock the caller passes.
 *
 * A record counts once `quorum.votes` distinct genesis validators signed a `record-vote` for
 * its exact signed bytes (SHA-256, {@linkcode recordHash}). An honest validator votes at most
 * once per window, so two different records of one window both reach a majority only if
 * some validator voted twice; a node that sees a validator vote twice for one window no
 * longer counts that validator's votes for it ({@linkcode QuorumTally}).
 *
 * @module
 */

import {
  decodeCertificate,
  encodeCertificate,
  type Message,
  type RoundRecord,
  verifyMessage,
} from "../codec/messages.ts";
import { quorumOf, type QuorumSpec } from "./genesis.ts";
import { type RunContext, verifyOptions } from "./run_context.ts";
import { sha256Sync } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { bytesEqual } from "../util/bytes.ts";
import { publicKeyFromAddress } from "../identity/address.ts";

/** The hash a vote names: SHA-256 of the signed round-record message. */
export function recordHash(recordBytes: Uint8Array): Uint8Array {
  return sha256Sync(recordBytes);
}

/** The proposer order of window `w`: `validators[(w + i) mod n]` for i = 0, 1, …, n − 1. */
export function proposerOrder(validators: readonly string[], w: number): string[] {
  const n = validators.length;
  return validators.map((_, i) => validators[(w + i) % n]);
}

/**
 * When `address` proposes window `w`'s record if no record of it counts by then: the window's
 * deadline (its end plus the grace) plus `fallbackMs` per validator before it in the order.
 * Undefined for a key that is not a validator.
 */
export function proposeAt(ctx: RunContext, w: number, address: string): number | undefined {
  const q = quorumOf(ctx.genesis);
  const key = publicKeyFromAddress(address);
  const rank = proposerOrder(ctx.genesis.validators, w)
    .findIndex((v) => bytesEqual(publicKeyFromAddress(v), key));
  if (rank < 0) return undefined;
  return ctx.clock.windowEnd(w) + ctx.graceMs + rank * (q?.fallbackMs ?? 0);
}

/**
 * When a validator gives window `w` up if no record of it counts by then: the last proposer's
 * turn plus one fallback and one window (docs/VALIDATORS.md). Until then a window is live: a
 * validator still takes part in it, even if the next window's deadline has passed too.
 */
export function giveUpAt(ctx: RunContext, w: number): number {
  const fallbackMs = quorumOf(ctx.genesis)?.fallbackMs ?? 0;
  return ctx.clock.windowEnd(w) + ctx.graceMs + ctx.genesis.validators.length * fallbackMs +
    ctx.genesis.windowMs;
}

/**
 * The last moment an honest validator signs a vote of window `w` (its own proposal's
 * included), and re-announces one: the window's give-up time, by its clock.
 */
export function lastVoteAt(ctx: RunContext, w: number): number {
  return giveUpAt(ctx, w);
}

/**
 * When window `w`'s votes are settled: its give-up time plus one window (the time a vote signed
 * before the give-up takes at most to reach every node that is up, a bound this design assumes)
 * and half a fallback (the clock skew allowed between the voter and this node). No honest validator signs a vote of `w` after
 * {@linkcode lastVoteAt}, so from then on a node that watched the window throughout has seen
 * every vote of it that will ever exist: if no record has a quorum of them, none ever will.
 */
export function settledAt(ctx: RunContext, w: number): number {
  return giveUpAt(ctx, w) + ctx.genesis.windowMs + (quorumOf(ctx.genesis)?.fallbackMs ?? 0) / 2;
}

/**
 * How often a validator waiting for a window's certificate re-announces its vote and asks the
 * others for the certificate: half a fallback, at least a second (its own votes stay at one a
 * second, well under the gossip rate limit of 4 a second per signer).
 */
export function repeatMs(q: QuorumSpec): number {
  return Math.max(1_000, q.fallbackMs / 2);
}

/**
 * How often each of `n` validators relays the proposal it voted for: every second re-announcement,
 * and no oftener than once in `n` seconds. The rate limit counts every relayed copy against the
 * proposer, so the n voters together relay at most one copy a second (with its own votes at most
 * two messages a second of the proposer's 4), whatever the number of validators.
 */
export function relayMs(q: QuorumSpec, n: number): number {
  return Math.max(2 * repeatMs(q), n * 1_000);
}

/** The first window not given up at `now` ({@linkcode giveUpAt}). */
export function firstLiveWindow(ctx: RunContext, now: number): number {
  // giveUpAt(w) > now ⟺ windowEnd(w) > now − (giveUpAt(w) − windowEnd(w)) ⟺ w ≥ windowAt(that).
  return ctx.clock.windowAt(now - (giveUpAt(ctx, 0) - ctx.clock.windowEnd(0)));
}

/**
 * Checks the votes of a round certificate for the record `recordBytes` of window `window`:
 * each a verified `record-vote` of this run by a genesis validator, for that window and that
 * record's hash, voters strictly ascending (one encoding, no repeats), at least the quorum.
 * Returns the voters' addresses, or why not.
 */
export function checkVotes(
  ctx: RunContext,
  q: QuorumSpec,
  recordBytes: Uint8Array,
  window: number,
  votes: readonly Uint8Array[],
): string[] | string {
  const want = recordHash(recordBytes);
  const voters: string[] = [];
  let prev: Uint8Array | undefined;
  for (const [i, v] of votes.entries()) {
    const r = verifyMessage(v, verifyOptions(ctx));
    if (!r.ok) return `vote ${i}: ${r.reason}: ${r.detail}`;
    const b = r.message.body;
    if (b.kind !== "record-vote") return `vote ${i} is a ${b.kind}`;
    if (b.window !== window) {
      return `vote ${i} is for window ${b.window}, the record's is ${window}`;
    }
    if (!bytesEqual(b.recordHash, want)) {
      return `vote ${i} is for another record of window ${window}`;
    }
    const key = r.message.senderKey;
    if (prev !== undefined && compare(prev, key) >= 0) {
      return `vote ${i}: voters must be distinct and ascending`;
    }
    prev = key;
    voters.push(r.message.sender);
  }
  if (voters.length < q.votes) {
    return `no quorum: ${voters.length} vote(s), the run needs ${q.votes} of ${ctx.genesis.validators.length} validators`;
  }
  return voters;
}

/**
 * A round certificate the tally made, with what its messages said: they were verified when
 * they were offered, so the certificate is not verified again.
 */
export interface Certified {
  /** The certificate's bytes ({@linkcode encodeCertificate}). */
  bytes: Uint8Array;
  /** The record it makes count. */
  record: RoundRecord;
  /** Who proposed it. */
  proposer: string;
  /** Who voted for it, ascending by key (as in the certificate). */
  voters: string[];
}

/** What one window's gossip has shown so far. */
interface WindowTally {
  /** Proposals by record hash (hex): the signed record bytes and their record (one per proposer). */
  proposals: Map<string, { bytes: Uint8Array; record: RoundRecord; proposer: string }>;
  /** Proposers seen (a validator's second proposal of a window is dropped). */
  proposers: Set<string>;
  /** Each validator's vote: the record hash (hex) and the signed vote. */
  votes: Map<string, Vote>;
  /** Validators seen voting for two records of the window: none of their votes count. */
  doubled: Set<string>;
  /** Set once a certificate was made. */
  certified: boolean;
}

/** A validator's verified vote as the tally keeps it. */
interface Vote {
  /** The record hash (hex) it names. */
  hash: string;
  /** The signed vote. */
  bytes: Uint8Array;
  /** The voter's key and address. */
  key: Uint8Array;
  voter: string;
}

/**
 * Windows a tally keeps at most, and how far back of the open window it takes messages (a
 * record is due within a few windows; the oldest are dropped).
 */
export const TALLY_WINDOWS = 64;

/**
 * Collects verified proposals and votes from gossip and makes a round certificate when a
 * record has the quorum's votes — once per window. Bounded: one proposal and one vote per
 * validator and window, for windows from {@linkcode TALLY_WINDOWS} before the one open at
 * `now()` to the one after it (a validator cannot crowd out the live windows with far ones).
 */
export class QuorumTally {
  readonly #ctx: RunContext;
  readonly #q: QuorumSpec;
  readonly #now: () => number;
  readonly #windows = new Map<number, WindowTally>();
  /** Called once per validator and window with the evidence of a double vote. */
  onDoubleVote: (window: number, voter: string, votes: [Uint8Array, Uint8Array]) => void = () => {};

  constructor(ctx: RunContext, q: QuorumSpec, now: () => number = Date.now) {
    this.#ctx = ctx;
    this.#q = q;
    this.#now = now;
  }

  /**
   * Takes one message of the rounds topic (a proposal or a vote; anything else is ignored),
   * verified by the caller (the gossip rules: signature, run, a genesis validator), and
   * returns the certificate it completes, if any — made from those messages, not checked again.
   */
  offer(m: Message, bytes: Uint8Array): Certified | null {
    const b = m.body;
    if (b.kind !== "round-record" && b.kind !== "record-vote") return null;
    const t = this.#window(b.window);
    if (t === null || t.certified) return null;
    if (b.kind === "round-record") {
      if (t.proposers.has(m.sender)) return null;
      t.proposers.add(m.sender);
      t.proposals.set(hex(recordHash(bytes)), { bytes, record: b, proposer: m.sender });
    } else {
      const hash = hex(b.recordHash);
      const seen = t.votes.get(m.sender);
      if (seen !== undefined) {
        if (seen.hash !== hash && !t.doubled.has(m.sender)) {
          t.doubled.add(m.sender);
          this.onDoubleVote(b.window, m.sender, [seen.bytes, bytes]);
        }
        return null;
      }
      t.votes.set(m.sender, { hash, bytes, key: m.senderKey, voter: m.sender });
    }
    return this.#certify(t);
  }

  /** The record hash (hex) `validator` voted for in window `w`, as seen here. */
  voteOf(w: number, validator: string): string | undefined {
    return this.#windows.get(w)?.votes.get(validator)?.hash;
  }

  /**
   * Whether no record of window `w` can count any more by the votes seen here: each validator
   * votes at most once per window (kept on disk before it is sent), so once the votes seen
   * leave every record short of the quorum even with every validator not yet seen (and every
   * double voter) on its side, the window stays without a record on every node. A validator
   * whose vote in `w` went unanswered so is free to vote for a later window's record from the
   * same head (`VoteBook`). False when a record of `w` counted here, or `w` is not
   * tallied (too old or too far ahead: nothing can be shown). `sawWindow`: this node was up
   * through the window's votes (false after a restart: votes sent before it are not seen).
   */
  cannotCount(w: number, sawWindow = true): boolean {
    const t = this.#windows.get(w);
    if (t === undefined || t.certified) return false;
    const n = this.#ctx.genesis.validators.length;
    const honest = [...t.votes.values()].filter((v) => !t.doubled.has(v.voter));
    // Not seen, or seen voting twice: may go to any record. Once the window is settled
    // ({@linkcode settledAt}) every vote of it that exists has been seen by a node that
    // watched it throughout (`sawWindow`), and a validator not seen did not vote.
    const unseen = sawWindow && this.#now() >= settledAt(this.#ctx, w) ? 0 : n - t.votes.size;
    const open = unseen + t.doubled.size;
    const most = Math.max(
      0,
      ...[...new Set(honest.map((v) => v.hash))]
        .map((h) => honest.filter((v) => v.hash === h).length),
    );
    return most + open < this.#q.votes;
  }

  /** The window's certificate once a record has the quorum's votes; the window is then done. */
  #certify(t: WindowTally): Certified | null {
    const by = new Map<string, Vote[]>();
    for (const [voter, v] of t.votes) {
      if (t.doubled.has(voter)) continue;
      by.set(v.hash, [...by.get(v.hash) ?? [], v]);
    }
    for (const [hash, votes] of by) {
      const p = t.proposals.get(hash);
      if (p === undefined || votes.length < this.#q.votes) continue;
      votes.sort((x, y) => compare(x.key, y.key));
      const bytes = encodeCertificate({ record: p.bytes, votes: votes.map((v) => v.bytes) });
      t.certified = true; // only once the certificate exists
      return { bytes, record: p.record, proposer: p.proposer, voters: votes.map((v) => v.voter) };
    }
    return null;
  }

  #window(w: number): WindowTally | null {
    let t = this.#windows.get(w);
    if (t !== undefined) return t;
    const open = this.#ctx.clock.windowAt(this.#now());
    if (w > open + 1 || w < open - TALLY_WINDOWS) return null;
    if (this.#windows.size >= TALLY_WINDOWS) {
      const oldest = Math.min(...this.#windows.keys());
      if (w < oldest) return null;
      this.#windows.delete(oldest);
    }
    t = {
      proposals: new Map(),
      proposers: new Set(),
      votes: new Map(),
      doubled: new Set(),
      certified: false,
    };
    this.#windows.set(w, t);
    return t;
  }
}

/** Splits a certificate, or says why it is not one. */
export function certificateParts(
  bytes: Uint8Array,
): { record: Uint8Array; votes: Uint8Array[] } | string {
  try {
    return decodeCertificate(bytes);
  } catch (e) {
    return (e as Error).message;
  }
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
