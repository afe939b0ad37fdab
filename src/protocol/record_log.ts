/**
 * The run's history as this node knows it: the signed round records it has verified, by
 * window, kept in a {@linkcode StateStore} (one blob per record, put atomically) and served to
 * others over the sync protocol. With a genesis `quorum` (docs/VALIDATORS.md) what is kept and
 * served is each record's round certificate (the record and a quorum of validators' votes),
 * and a bare signed record does not count.
 *
 * @module
 */

import { isCertificate, type Message, type RoundRecord, verifyMessage } from "../codec/messages.ts";
import { quorumOf } from "./genesis.ts";
import { certificateParts, checkVotes, QuorumTally } from "./quorum.ts";
import type { SyncCheckpoint, SyncSource } from "../net/sync_protocol.ts";
import { type RunContext, verifyOptions } from "./run_context.ts";
import type { StateStore } from "./state_store.ts";

/** A verified round record with the exact bytes its validator signed. */
export interface SignedRecord {
  /** The signed message as it travels (with a genesis `quorum`: its round certificate). */
  bytes: Uint8Array;
  /** Its round record. */
  record: RoundRecord;
  /** Its sender (a genesis validator; with a `quorum`, the proposer). */
  sender: string;
  /** With a genesis `quorum`: the validators whose votes made it count. */
  voters?: string[];
}

/**
 * Checks that `bytes` is a round record of this run signed by one of its validators — with a
 * genesis `quorum`, a round certificate whose record has a quorum of validators' votes;
 * returns it, or the reason it is not.
 */
export function verifyRecord(ctx: RunContext, bytes: Uint8Array): SignedRecord | string {
  const q = quorumOf(ctx.genesis);
  if (q === null) return verifyProposal(ctx, bytes);
  if (!isCertificate(bytes)) {
    return `no quorum: a bare round record (this run needs ${q.votes} validators' votes)`;
  }
  const parts = certificateParts(bytes);
  if (typeof parts === "string") return `malformed: ${parts}`;
  const r = verifyProposal(ctx, parts.record);
  if (typeof r === "string") return r;
  const voters = checkVotes(ctx, q, parts.record, r.record.window, parts.votes);
  if (typeof voters === "string") return voters;
  return { ...r, bytes, voters };
}

/**
 * Checks that `bytes` is a round-record message of this run signed by one of its validators
 * (without a `quorum`, all a record needs; with one, a proposal to vote on).
 */
export function verifyProposal(ctx: RunContext, bytes: Uint8Array): SignedRecord | string {
  const r = verifyMessage(bytes, verifyOptions(ctx));
  if (!r.ok) return `${r.reason}: ${r.detail}`;
  return asRecord(r.message, bytes) ?? `not a round record (${r.message.body.kind})`;
}

/** The round record of a verified message, or undefined for another kind. */
export function asRecord(m: Message, bytes: Uint8Array): SignedRecord | undefined {
  return m.body.kind === "round-record" ? { bytes, record: m.body, sender: m.sender } : undefined;
}

/** Verified round records by window; a {@linkcode SyncSource} for the sync protocol. */
export class RecordLog implements SyncSource {
  readonly #store: StateStore;
  readonly #byWindow = new Map<number, SignedRecord>();
  /** Windows whose record {@linkcode add} is writing (the first add of a window reserves it). */
  readonly #adding = new Set<number>();
  #sorted: number[] | null = [];
  /** With a genesis `quorum`: proposals and votes seen on gossip, until a record counts. */
  readonly tally: QuorumTally | null;
  /** The checkpoint served with the records (set by the role that makes checkpoints). */
  servedCheckpoint: SyncCheckpoint | null = null;
  /** Called with each record {@linkcode add} keeps (the role's address book notes its contributors). */
  onAdd: ((r: SignedRecord) => void) | undefined;

  private constructor(ctx: RunContext, store: StateStore, now: () => number) {
    this.#store = store;
    const q = quorumOf(ctx.genesis);
    this.tally = q === null ? null : new QuorumTally(ctx, q, now);
  }

  /**
   * The record a verified message of the rounds topic makes count, if any: the record itself
   * without a `quorum`; with one, the certificate once this proposal or vote completes a
   * quorum (once per window). Its messages were verified on arrival (the gossip rules), so
   * its 1 + k signatures are not checked again. Not kept yet: {@linkcode add} it.
   */
  fromGossip(m: Message, bytes: Uint8Array): SignedRecord | undefined {
    if (this.tally === null) return asRecord(m, bytes);
    const c = this.tally.offer(m, bytes);
    if (c === null) return undefined;
    return { bytes: c.bytes, record: c.record, sender: c.proposer, voters: c.voters };
  }

  /**
   * Opens the log kept in `store` (a `MemoryStore`: memory only). Records that do not verify
   * are quarantined (`*.bad-<time>`) and reported through `warn`, never used. `now` is the
   * clock of the gossip tally (a genesis `quorum`).
   */
  static async open(
    ctx: RunContext,
    store: StateStore,
    warn: (line: string) => void = () => {},
    now: () => number = Date.now,
  ): Promise<RecordLog> {
    const log = new RecordLog(ctx, store, now);
    for (const name of await store.list()) {
      if (!name.endsWith(".msg")) continue;
      const bytes = await store.get(name);
      if (bytes === null) continue; // removed meanwhile
      const got = verifyRecord(ctx, bytes);
      if (typeof got === "string") {
        const moved = await store.quarantine(name);
        warn(`${store.where}/${name}: ${got}; moved to ${store.where}/${moved}`);
        continue;
      }
      log.#byWindow.set(got.record.window, got);
    }
    log.#sorted = null;
    return log;
  }

  /** How many records it holds. */
  get size(): number {
    return this.#byWindow.size;
  }

  /** The record of window `w`, if known. */
  get(w: number): SignedRecord | undefined {
    return this.#byWindow.get(w);
  }

  /** The newest record, if any. */
  latest(): SignedRecord | undefined {
    const ws = this.#windows();
    return ws.length === 0 ? undefined : this.#byWindow.get(ws[ws.length - 1]);
  }

  /** Records with window > `w`, ascending. */
  after(w: number): SignedRecord[] {
    return this.#windows().filter((x) => x > w).map((x) => this.#byWindow.get(x)!);
  }

  /**
   * Keeps a verified record (persisted before this resolves). Returns false when a record of
   * that window is already known (the first one stays: a validator signs one per window).
   */
  async add(r: SignedRecord): Promise<boolean> {
    const w = r.record.window;
    // Reserved before the write: the gossip tally and a certificate pull may add a window at once.
    if (this.#byWindow.has(w) || this.#adding.has(w)) return false;
    this.#adding.add(w);
    try {
      await this.#store.put(`${String(w).padStart(10, "0")}.msg`, r.bytes);
    } finally {
      this.#adding.delete(w);
    }
    this.#byWindow.set(w, r);
    this.#sorted = null;
    this.onAdd?.(r);
    return true;
  }

  /** {@linkcode SyncSource}: signed records with window ≥ `fromWindow`, at most `max`. */
  records(fromWindow: number, max: number): Uint8Array[] {
    return this.after(fromWindow - 1).slice(0, max).map((r) => r.bytes);
  }

  /** {@linkcode SyncSource}: the newest checkpoint served. */
  checkpoint(): SyncCheckpoint | null {
    return this.servedCheckpoint;
  }

  #windows(): number[] {
    if (this.#sorted === null) this.#sorted = [...this.#byWindow.keys()].sort((a, b) => a - b);
    return this.#sorted;
  }
}
