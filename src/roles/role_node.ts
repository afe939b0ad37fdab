/**
 * What peers and validators share on the network: announcing themselves (sr25519 key bound
 * to the libp2p key), learning who is who from others' announcements, and catching up on
 * the run's history over the sync protocol (checkpoint + round-record replay).
 *
 * @module
 */

import type { PrivateKey } from "@libp2p/interface";
import type { WeblocoNode } from "../net/node.ts";
import { MAX_WINDOW } from "../protocol/window_clock.ts";
import type { Signer } from "../identity/signer.ts";
import {
  type Capability,
  decodeMessage,
  type Message,
  type MessageBody,
  peerBindingBytes,
  signMessage,
} from "../codec/messages.ts";
import { decodeCheckpoint } from "../codec/checkpoint.ts";
import { hex } from "../util/hex.ts";
import { ChainError, type ModelChain } from "../protocol/model_chain.ts";
import { type RecordLog, type SignedRecord, verifyRecord } from "../protocol/record_log.ts";
import { type RejectCounts, topicKinds } from "../protocol/gossip_rules.ts";
import { initialParams, type RunContext } from "../protocol/run_context.ts";

/** How often a node re-announces itself (new peers learn it; gossip has no history). */
export const ANNOUNCE_INTERVAL_MS = 5_000;

/**
 * The role's node dials the peers of its address book (where announcements put them) while it
 * has fewer connections than this (`wantPeers`), so payloads can come from anyone, not only
 * through the bootstrap node.
 */
export const MAX_DIALED_PEERS = 32;

/** Most announced peer ids a role remembers besides the validators' (see `peerOf`). */
export const MAX_PEER_IDS = 4_096;

/** Bytes moved by a role, for the live view and the benchmark. */
export interface Traffic {
  /** Payload bytes fetched from others. */
  down: number;
  /** Payload bytes this node published (its own updates, records, checkpoints). */
  up: number;
}

/** The network side of a role. */
export class RoleNode {
  /** The run. */
  readonly ctx: RunContext;
  /** The libp2p node. */
  readonly node: WeblocoNode;
  /** This role's sr25519 signer. */
  readonly signer: Signer;
  /** Verified round records. */
  readonly records: RecordLog;
  /** Rejected gossip by reason. */
  readonly rejected: RejectCounts;
  /** Payload traffic. */
  readonly traffic: Traffic = { down: 0, up: 0 };
  /**
   * SS58 address → libp2p peer id, from verified peer announcements: the most recently
   * announced {@linkcode MAX_PEER_IDS} (announcements are free, fresh keys must not grow it
   * without bound) and the run's validators.
   */
  readonly peerOf = new Map<string, string>();
  /** Line logger. */
  readonly log: (line: string) => void;
  readonly #key: PrivateKey;
  readonly #caps: Capability[];
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(parts: {
    ctx: RunContext;
    node: WeblocoNode;
    signer: Signer;
    libp2pKey: PrivateKey;
    records: RecordLog;
    rejected: RejectCounts;
    capabilities: Capability[];
    log: (line: string) => void;
  }) {
    this.ctx = parts.ctx;
    this.node = parts.node;
    this.signer = parts.signer;
    this.#key = parts.libp2pKey;
    this.records = parts.records;
    this.rejected = parts.rejected;
    this.#caps = parts.capabilities;
    this.log = parts.log;
  }

  /** Subscribes to peer announcements, serves the record log, announces now and periodically. */
  start(): void {
    this.node.setSyncSource(this.records);
    // A peer a signed record selected outlasts the peers only heard of in the address book.
    this.records.onAdd = (r) => {
      for (const c of r.record.contributors) {
        const id = this.peerOf.get(c.address);
        if (id !== undefined) this.node.selected(id);
      }
    };
    this.subscribe(this.node.topics.peers, (m, _bytes, _from, via) => {
      if (m.body.kind !== "peer-announce") return;
      this.#notePeer(m.sender, m.body.peerId);
      // Signed addresses are its latest (it may have moved): the node dials it from its book
      // (up to MAX_DIALED_PEERS connections), and re-dials a validator when it is lost. `via`
      // (the relaying connection) fills only its share of the book.
      if (this.ctx.genesis.validators.includes(m.sender)) this.node.keep(m.body.peerId, m.sender);
      this.node.learn(m.body.peerId, m.body.addresses, via);
    });
    const announce = () =>
      void this.announce().catch((e) => this.log(`announce failed: ${e.message}`));
    announce();
    this.#timer = setInterval(announce, ANNOUNCE_INTERVAL_MS);
  }

  /** Stops announcing (the node is stopped by its owner). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  /**
   * Calls `handler` with each message of `topic`. The node's gossip validator (`gossipRules`) has verified
   * it before delivery, so this only decodes it (no second
   * signature check) and drops anything not of the topic's kind. `from`: its author's peer id,
   * `via`: the connection it came through.
   */
  subscribe(
    topic: string,
    handler: (m: Message, bytes: Uint8Array, from: string, via: string) => void | Promise<void>,
  ): void {
    const kinds = topicKinds(this.node.topics).get(topic) ?? [];
    this.node.subscribe(topic, (g) => {
      const r = decodeMessage(g.data);
      if (!r.ok || !kinds.includes(r.message.body.kind)) return;
      return handler(r.message, g.data, g.from, g.via);
    });
  }

  /** Signs `body` for this run, now. */
  sign(body: MessageBody): Promise<Uint8Array> {
    return signMessage(this.signer, { runId: this.ctx.runId, timestamp: Date.now(), body });
  }

  /** Signs and publishes `body` on `topic`; returns the signed bytes. */
  async publish(topic: string, body: MessageBody): Promise<Uint8Array> {
    const bytes = await this.sign(body);
    await this.publishSigned(topic, bytes);
    return bytes;
  }

  /** Publishes signed bytes; no subscribers yet is not an error. */
  async publishSigned(topic: string, bytes: Uint8Array): Promise<void> {
    await this.node.publish(topic, bytes).catch((e) => {
      // No subscribers yet is normal at start; anything else is worth a line.
      if (!/NoPeersSubscribedToTopic|no peers/i.test(String(e?.message ?? e))) {
        this.log(`publish on ${topic} failed: ${e?.message ?? e}`);
      }
    });
  }

  /** Announces this node's key, libp2p id, addresses and capabilities. */
  async announce(): Promise<void> {
    const peerSignature = await this.#key.sign(
      peerBindingBytes(this.ctx.runId, this.signer.publicKey),
    );
    await this.publish(this.node.topics.peers, {
      kind: "peer-announce",
      peerKey: this.#key.publicKey.raw,
      peerSignature: new Uint8Array(peerSignature),
      addresses: this.node.addresses().slice(0, 16),
      capabilities: this.#caps,
    });
  }

  /** Peer ids of the run's validators we know of, then every connected peer. */
  providers(extra: readonly (string | undefined)[] = []): string[] {
    const v = this.ctx.genesis.validators.map((a) => this.peerOf.get(a));
    return [...new Set([...extra, ...v, ...this.node.peers()].filter((x): x is string => !!x))];
  }

  /** Fetches a payload by hash from anyone who has it (stored, so we serve it too). */
  async fetchPayload(
    hashHex: string,
    preferred: readonly (string | undefined)[] = [],
  ): Promise<Uint8Array> {
    const held = this.node.store.get(hashHex);
    if (held !== undefined) return held;
    const bytes = await this.node.fetch(hashHex, this.providers(preferred), { timeoutMs: 20_000 });
    this.traffic.down += bytes.length;
    return bytes;
  }

  /**
   * Asks other nodes for the round records after `chain.applied` (after the newest checkpoint
   * when that is further on) and applies them. When the
   * chain cannot follow them (it is on another model: a fork or a corrupted state), it
   * re-syncs from the newest checkpoint. Returns how many records were applied and whether
   * anyone answered.
   */
  async catchUp(
    chain: ModelChain,
    onApplied: (r: SignedRecord) => Promise<void>,
  ): Promise<{ applied: number; answered: boolean }> {
    for (const p of this.providers()) {
      try {
        // A late joiner (or a long-stopped tab) starts from the newest checkpoint rather than
        // replaying from window 0: payloads before it may be gone from every node.
        const cp = (await this.node.sync(p, MAX_WINDOW, { timeoutMs: 20_000 })).checkpoint;
        if (cp !== null && cp.window - 1 > chain.applied) {
          await this.resync(chain, p);
          // The head is now the state the checkpoint's record made: saved and reported as such
          // (not counted as replayed).
          const made = this.records.get(chain.applied);
          if (made !== undefined) await onApplied(made);
        }
        await this.#fetchRecords(p, chain.applied + 1);
        return { applied: await this.applyKnown(chain, onApplied), answered: true };
      } catch (e) {
        if (e instanceof ChainError && (e.code === "wrong-base" || e.code === "hash-mismatch")) {
          this.log(`${e.message}; re-syncing from the newest checkpoint`);
          await this.resync(chain, p);
          return { applied: await this.applyKnown(chain, onApplied), answered: true };
        }
        this.log(`sync from ${p.slice(-8)} failed: ${(e as Error).message}`);
      }
    }
    return { applied: 0, answered: false };
  }

  /** Applies the known records after the head, in order; throws the first ChainError. */
  async applyKnown(
    chain: ModelChain,
    onApplied: (r: SignedRecord) => Promise<void>,
  ): Promise<number> {
    let n = 0;
    for (const r of this.records.after(chain.applied)) {
      await chain.applyRecord(r.record, (h) => this.fetchPayload(h, this.#authorsOf(r)));
      await onApplied(r);
      n++;
    }
    return n;
  }

  /**
   * Replaces the head with the provider's newest checkpoint (checked against the signed record
   * that produced it), or θ₀ when there is none, then fetches the records since.
   */
  async resync(chain: ModelChain, provider: string): Promise<void> {
    const head = await this.node.sync(provider, MAX_WINDOW, { timeoutMs: 20_000 });
    const cp = head.checkpoint;
    if (cp === null || cp.window === 0) {
      await chain.reset(initialParams(this.ctx), -1);
      await this.#fetchRecords(provider, 0);
      return;
    }
    const bytes = await this.fetchPayload(cp.hash, [provider]);
    const { params, meta } = await decodeCheckpoint(
      bytes,
      this.ctx.tensors,
      this.ctx.layout.length,
      {
        runId: this.ctx.runIdHex,
        window: cp.window,
      },
    );
    await this.#fetchRecords(provider, cp.window - 1);
    const made = this.records.get(cp.window - 1);
    if (made === undefined || hex(made.record.nextModelHash) !== meta.modelHash) {
      throw new ChainError(
        "hash-mismatch",
        `checkpoint of window ${cp.window} is not what the signed record ${cp.window - 1} made`,
      );
    }
    await chain.reset(params, cp.window - 1);
    this.log(`loaded checkpoint of window ${cp.window} (${(bytes.length / 1e6).toFixed(2)} MB)`);
  }

  /** Fetches and verifies every record from `fromWindow` on (following `more`). */
  async #fetchRecords(provider: string, fromWindow: number): Promise<void> {
    let from = fromWindow;
    for (let page = 0; page < 10_000; page++) {
      const res = await this.node.sync(provider, from, { timeoutMs: 20_000 });
      let last = from - 1;
      for (const bytes of res.records) {
        const r = verifyRecord(this.ctx, bytes);
        if (typeof r === "string") {
          throw new Error(`sync from ${provider.slice(-8)}: record refused (${r})`);
        }
        await this.records.add(r);
        last = Math.max(last, r.record.window);
      }
      if (!res.more || res.records.length === 0) return;
      from = last + 1;
    }
  }

  /** Records `address`'s peer id as the newest; beyond the bound the oldest non-validator goes. */
  #notePeer(address: string, peerId: string): void {
    this.peerOf.delete(address);
    this.peerOf.set(address, peerId);
    if (this.peerOf.size <= MAX_PEER_IDS) return;
    for (const a of this.peerOf.keys()) {
      if (!this.ctx.genesis.validators.includes(a)) {
        this.peerOf.delete(a);
        return;
      }
    }
  }

  #authorsOf(r: SignedRecord): string[] {
    return [
      this.peerOf.get(r.sender),
      ...r.record.contributors.map((c) => this.peerOf.get(c.address)),
    ].filter((x): x is string => x !== undefined);
  }
}
