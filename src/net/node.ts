/**
 * The webloco node, runtime-independent: a started libp2p node with identify, ping, gossipsub
 * (webloco topics, validators, scoring), the payload protocol and the sync protocol, behind a
 * small API.
 * `deno_node.ts` and `browser_node.ts` add the transports of each runtime.
 *
 * @module
 */

import type { GossipSub } from "@libp2p/gossipsub";
import { gossipsub } from "@libp2p/gossipsub";
import { type Identify, identify } from "@libp2p/identify";
import type { Libp2p, PeerId, PrivateKey } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Ping, ping } from "@libp2p/ping";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import type { Libp2pOptions } from "libp2p";
import { AddressBook, type BookEntry, type BookStore } from "./address_book.ts";
import { NetError } from "./errors.ts";
import { Redial } from "./redial.ts";
import {
  type GossipConfig,
  gossipsubOptions,
  type GossipValidator,
  installTopicValidators,
  plainBytes,
  topicLimit,
} from "./gossip.ts";
import {
  type FetchFromAnyOptions,
  type FetchOptions,
  type PayloadServerOptions,
  type PayloadService,
  payloadService,
  type Provider,
} from "./payload_protocol.ts";
import { type PayloadHash, PayloadStore } from "./payload_store.ts";
import {
  type ContentService,
  contentService,
  type ContentServiceInit,
} from "./content_protocol.ts";
import { type RunTopics, runTopics } from "./protocols.ts";
import {
  type SyncOptions,
  type SyncResponse,
  type SyncService,
  syncService,
  type SyncServiceInit,
  type SyncSource,
} from "./sync_protocol.ts";

/** Gossipsub as webloco uses it: the service plus its score of a peer. */
export type ScoredGossipSub = GossipSub & {
  /** The local score of a peer (by id text); 0 for unknown peers. */
  getScore(peerId: string): number;
  /** Peer ids (text) in this node's mesh for a topic. */
  getMeshPeers(topic: string): string[];
};

/** The libp2p services of a webloco node. */
export interface WeblocoServices {
  /** Identify (addresses and protocols of peers). */
  identify: Identify;
  /** Ping (liveness, RTT). */
  ping: Ping;
  /** Gossipsub with webloco's validators and scoring. */
  pubsub: GossipSub;
  /** The payload protocol over the node's store. */
  payload: PayloadService;
  /** The sync protocol (history since a window, newest checkpoint). */
  sync: SyncService;
  /** The content protocol (the genesis' corpus and tokenizer files this node holds). */
  content: ContentService;
  /** libp2p requires a service map to be indexable. */
  [key: string]: unknown;
}

/** A libp2p node with {@linkcode WeblocoServices}. */
export type WeblocoLibp2p = Libp2p<WeblocoServices>;

/** Options common to every runtime. */
export interface WeblocoNodeOptions {
  /** The run: its id (32 bytes or hex) names the topics. */
  runId: Uint8Array | string;
  /** The gossip message validator (see `gossip.ts`). */
  validate: GossipValidator;
  /** The libp2p identity (default: a new Ed25519 key). */
  privateKey?: PrivateKey;
  /** Multiaddrs (with /p2p/) dialed at start and re-dialed while disconnected. */
  bootstrap?: readonly string[];
  /**
   * The longest wait between re-dials of a disconnected bootstrap or kept peer (default 10 s;
   * the waits grow from 1 s to it, see `redial.ts`); 0: bootstrap peers are dialed once, kept
   * ones never.
   */
  bootstrapIntervalMs?: number;
  /**
   * While the node has fewer connections than this, it dials the peers of its address book:
   * those it met and those it {@linkcode WeblocoNode.learn}s of (announcements). Default
   * {@linkcode LOW_WATER_PEERS}; a role that wants every peer of its run near, to fetch
   * payloads from anyone, sets more.
   */
  wantPeers?: number;
  /**
   * Where the address book is kept between runs (a role's data directory); default: memory
   * only. See `address_book.ts`.
   */
  addressBook?: BookStore;
  /** The payload store (default: a new one with `storeMaxBytes`). */
  store?: PayloadStore;
  /** Byte cap of the default store (default 1 GiB). */
  storeMaxBytes?: number;
  /** Limits of the payload server (max payload, concurrency, timeouts). */
  payload?: PayloadServerOptions;
  /** Limits of the sync server (records per response, record bytes, concurrency, timeouts). */
  sync?: SyncServiceInit;
  /** What the content server serves (default nothing until `setSource`) and its limits. */
  content?: ContentServiceInit;
  /** Gossip limits and scoring (topics and validator come from the fields above). */
  gossip?: Omit<GossipConfig, "topics" | "validate">;
  /** A line logger for background failures (bootstrap dials, handler errors). */
  log?: (line: string) => void;
}

/** How often the node checks its kept peers and its connection count (ms). */
const MAINTAIN_MS = 1_000;

/** The longest wait between dials of a peer known only from the address book (ms). */
const BOOK_REDIAL_MAX_MS = 60_000;

/** Below this many connections the node dials peers from its address book (default). */
export const LOW_WATER_PEERS = 4;

/** Most dials the maintenance starts at once. */
const MAX_PARALLEL_DIALS = 4;

/** How often a changed address book is written (ms); also on stop. */
const BOOK_SAVE_MS = 5_000;

/** A received, validated gossip message. */
export interface GossipMessage {
  /** The topic. */
  topic: string;
  /** The message data. */
  data: Uint8Array;
  /** The libp2p peer id (text) of its author. */
  from: string;
  /** The libp2p peer id (text) of the connection it came through (its relay, or the author). */
  via: string;
}

/** A handler of validated messages of one topic; errors are caught and logged. */
export type GossipHandler = (message: GossipMessage) => void | Promise<void>;

/** The libp2p options shared by every runtime (no transports or addresses). */
export function weblocoLibp2pOptions(
  options: WeblocoNodeOptions,
): {
  libp2p: Libp2pOptions<WeblocoServices>;
  store: PayloadStore;
  gossip: GossipConfig;
  topics: RunTopics;
} {
  const topics = runTopics(options.runId);
  const log = options.log;
  const gossip: GossipConfig = {
    ...options.gossip,
    topics: Object.values(topics),
    validate: options.validate,
  };
  const store = options.store ??
    new PayloadStore({
      maxBytes: options.storeMaxBytes,
      maxPayloadBytes: options.payload?.maxPayloadBytes,
    });
  return {
    topics,
    store,
    gossip,
    libp2p: {
      privateKey: options.privateKey,
      start: false,
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub(gossipsubOptions(gossip)),
        payload: payloadService({ ...options.payload, store }),
        sync: syncService({
          ...options.sync,
          // Failed requests go to the node's log (a failing history source is a local bug).
          onError: options.sync?.onError ??
            (log && ((err, peer) => log(`sync request from ${peer} failed: ${messageOf(err)}`))),
        }),
        content: contentService(options.content),
      },
    },
  };
}

/** A started webloco libp2p node. Create with `createDenoNode` or `createBrowserNode`. */
export class WeblocoNode {
  /** The libp2p node (services: identify, ping, pubsub, payload, sync). */
  readonly libp2p: WeblocoLibp2p;
  /** The run's topic names. */
  readonly topics: RunTopics;
  /** The content-addressed payload store this node serves from. */
  readonly store: PayloadStore;
  readonly #gossip: GossipConfig;
  readonly #handlers = new Map<string, Set<GossipHandler>>();
  readonly #log: (line: string) => void;
  /** Peers known and where they said they listen (identify, announcements), persisted. */
  readonly #book: AddressBook;
  /** Peers re-dialed while disconnected (bootstrap peers, {@linkcode keep}), by peer id. */
  readonly #kept = new Map<string, Redial>();
  /** Who each kept peer id is kept as (see {@linkcode keep}). */
  readonly #keptAs = new Map<string, string>();
  /** Backoff of peers dialed from the address book. */
  readonly #bookDials = new Map<string, Redial>();
  /** Bootstrap multiaddrs without a peer id: dialed until one answers, then kept as that peer. */
  readonly #anonymous: Redial[] = [];
  readonly #keptMaxMs: number;
  readonly #wantPeers: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #savedAt = 0;
  #saving: Promise<void> = Promise.resolve();
  #stopped = false;

  private constructor(
    libp2p: WeblocoLibp2p,
    parts: { store: PayloadStore; gossip: GossipConfig; topics: RunTopics },
    options: Pick<WeblocoNodeOptions, "bootstrapIntervalMs" | "log" | "addressBook" | "wantPeers">,
  ) {
    this.libp2p = libp2p;
    this.store = parts.store;
    this.topics = parts.topics;
    this.#gossip = parts.gossip;
    this.#log = options.log ?? (() => {});
    this.#keptMaxMs = options.bootstrapIntervalMs ?? 10_000;
    this.#wantPeers = options.wantPeers ?? LOW_WATER_PEERS;
    this.#book = new AddressBook({ self: libp2p.peerId.toString(), store: options.addressBook });
  }

  /**
   * Wraps a created (not yet started) libp2p node built from {@linkcode weblocoLibp2pOptions},
   * installs the validators, starts it, loads its address book, and dials the bootstrap peers
   * and, while it has few connections, the peers of its book (in the background).
   */
  static async start(
    libp2p: WeblocoLibp2p,
    parts: { store: PayloadStore; gossip: GossipConfig; topics: RunTopics },
    options: Pick<
      WeblocoNodeOptions,
      "bootstrap" | "bootstrapIntervalMs" | "log" | "addressBook" | "wantPeers"
    >,
  ): Promise<WeblocoNode> {
    const bootstrap = (options.bootstrap ?? []).map(parseMultiaddr);
    const node = new WeblocoNode(libp2p, parts, options);
    installTopicValidators(libp2p.services.pubsub, parts.gossip);
    libp2p.services.pubsub.addEventListener("gossipsub:message", node.#onMessage);
    libp2p.addEventListener("peer:identify", node.#onIdentify);
    libp2p.addEventListener("peer:connect", node.#onConnect);
    libp2p.addEventListener("peer:disconnect", node.#onDisconnect);
    try {
      await libp2p.start();
    } catch (err) {
      await Promise.resolve().then(() => libp2p.stop()).catch(() => {});
      throw new NetError("start", `cannot start the node: ${oneLine(messageOf(err))}`, {
        cause: err,
      });
    }
    const problem = await node.#book.load();
    if (problem !== null) node.#log(`${problem}; starting without it`);
    for (const ma of bootstrap) {
      const id = ma.getComponents().find((c) => c.name === "p2p")?.value;
      const redial = new Redial(node.#keptMaxMs, [ma]);
      if (id === undefined) node.#anonymous.push(redial);
      else if (id !== node.peerId) {
        node.#kept.set(id, redial);
        node.#book.keep(id);
      }
    }
    node.#maintain();
    node.#timer = setInterval(() => node.#maintain(), MAINTAIN_MS);
    return node;
  }

  /** This node's peer id (text). */
  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  /** The addresses this node listens on, each with /p2p/<peer id>. */
  addresses(): string[] {
    return this.libp2p.getMultiaddrs().map((m) => m.toString());
  }

  /**
   * Notes that `peerId` says it listens at `addresses` (e.g. from its signed announcement):
   * the address book and libp2p's peer store take them as its latest, so every later dial of
   * that peer (a re-dial, a payload fetch by peer id) tries them. Undialable ones are dropped.
   * `via`: the connection that relayed them (one source fills only a share of the book).
   */
  learn(peerId: string, addresses: readonly string[], via?: string): void {
    if (!this.#book.learn(peerId, addresses, via)) return;
    const entry = this.#book.get(peerId)!;
    this.libp2p.peerStore.patch(peerIdFromString(peerId), {
      multiaddrs: entry.addresses.map((a) => multiaddr(a)),
    }).catch((e) => this.#log(`peer store update of ${peerId.slice(-8)} failed: ${messageOf(e)}`));
  }

  /**
   * Notes that a signed record selected `peerId`'s update: the address book keeps it over
   * peers only heard of or met.
   */
  selected(peerId: string): void {
    this.#book.selected(peerId);
  }

  /**
   * The address book: peers met and their latest dialable addresses, the highest standing
   * first, then the newest.
   */
  knownPeers(): BookEntry[] {
    return this.#book.entries();
  }

  /**
   * Keeps this node connected to `peerId` (e.g. a validator): while disconnected it is
   * re-dialed at its latest known addresses, 1 s after the loss, then with waits doubling up
   * to the bootstrap interval (also after connections that do not stay up, `redial.ts`), for
   * as long as the node runs. With `as` (e.g. the validator's wallet address), a later peer id
   * kept as the same replaces this one (a new libp2p key).
   */
  keep(peerId: string, as?: string): void {
    if (peerId === this.peerId) return;
    parsePeerId(peerId);
    if (as !== undefined) {
      const before = this.#keptAs.get(as);
      if (before !== undefined && before !== peerId) {
        this.#kept.delete(before);
        this.#book.release(before);
      }
      this.#keptAs.set(as, peerId);
    }
    if (!this.#kept.has(peerId)) {
      this.#kept.set(peerId, new Redial(this.#keptMaxMs));
    }
    this.#book.keep(peerId);
  }

  /** Peer ids (text) of connected peers. */
  peers(): string[] {
    return this.libp2p.getPeers().map((p) => p.toString());
  }

  /** Peer ids (text) of peers known to be subscribed to `topic`. */
  topicPeers(topic: string): string[] {
    return this.libp2p.services.pubsub.getSubscribers(topic).map((p) => p.toString());
  }

  /**
   * Peer ids (text) in this node's gossipsub mesh for `topic`: the peers it forwards messages
   * to. A message published before a peer joins the mesh may never reach that peer.
   */
  meshPeers(topic: string): string[] {
    return (this.libp2p.services.pubsub as ScoredGossipSub).getMeshPeers(topic);
  }

  /** The gossipsub score this node gives `peerId` (below 0 after invalid messages). */
  score(peerId: string): number {
    return (this.libp2p.services.pubsub as ScoredGossipSub).getScore(peerId);
  }

  /** Dials a peer by multiaddr (with /p2p/) or peer id; throws `dial` or `invalid_argument`. */
  async dial(target: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const t: Multiaddr | PeerId = target.startsWith("/")
      ? parseMultiaddr(target)
      : parsePeerId(target);
    try {
      await this.libp2p.dial(t, options);
    } catch (err) {
      throw new NetError("dial", `cannot dial ${target}: ${messageOf(err)}`, { cause: err });
    }
  }

  /**
   * Calls `handler` with every validated message of `topic` (one of {@linkcode topics});
   * subscribes on the first handler. Returns a function that removes the handler (and
   * unsubscribes after the last).
   */
  subscribe(topic: string, handler: GossipHandler): () => void {
    this.#checkTopic(topic);
    let set = this.#handlers.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#handlers.set(topic, set);
      this.libp2p.services.pubsub.subscribe(topic);
    }
    set.add(handler);
    return () => {
      const s = this.#handlers.get(topic);
      if (s === undefined || !s.delete(handler) || s.size > 0) return;
      this.#handlers.delete(topic);
      if (!this.#stopped) this.libp2p.services.pubsub.unsubscribe(topic);
    };
  }

  /**
   * Publishes `data` on `topic` (signed by this node's libp2p key). Throws `too_large` above the
   * topic's limit, `invalid_argument` for a topic not of this run. Returns how many peers it
   * was sent to (0 is not an error: nobody may be listening yet).
   */
  async publish(topic: string, data: Uint8Array): Promise<number> {
    this.#checkTopic(topic);
    const limit = topicLimit(this.#gossip, topic);
    if (!(data instanceof Uint8Array)) throw new NetError("invalid_argument", "data must be bytes");
    if (data.byteLength > limit) {
      throw new NetError(
        "too_large",
        `message of ${data.byteLength} bytes, ${topic} allows ${limit}`,
      );
    }
    const result = await this.libp2p.services.pubsub.publish(topic, data);
    return result.recipients.length;
  }

  /**
   * The payload with sha256 `hash`: from the store, else from the first provider that
   * delivers it (verified, then stored so this node serves it too).
   */
  fetch(
    hash: PayloadHash,
    providers: readonly Provider[],
    options?: FetchFromAnyOptions,
  ): Promise<Uint8Array> {
    return this.libp2p.services.payload.fetch(hash, providers, options);
  }

  /** Fetches from one provider without storing (e.g. to check a provider). */
  fetchFrom(provider: Provider, hash: PayloadHash, options?: FetchOptions): Promise<Uint8Array> {
    return this.libp2p.services.payload.fetchPayload(provider, hash, options);
  }

  /**
   * Sets what this node serves to sync requests (round records, newest checkpoint); `null`
   * (the default) answers "unavailable".
   */
  setSyncSource(source: SyncSource | null): void {
    this.libp2p.services.sync.setSource(source);
  }

  /**
   * Asks `provider` for the run's history: signed round records with window ≥ `fromWindow`
   * (at most `MAX_SYNC_RECORDS`; `more` says to ask again from the last window + 1) and its
   * newest checkpoint pointer. Records are unverified bytes. Throws a NetError: `unavailable`,
   * `busy`, `bad_request`, `remote_error`, `too_large`, `protocol`, `timeout`, `aborted`,
   * `dial`, `invalid_argument`.
   */
  sync(provider: Provider, fromWindow: number, options?: SyncOptions): Promise<SyncResponse> {
    return this.libp2p.services.sync.sync(provider, fromWindow, options);
  }

  /**
   * Stops the node: timers, handlers, payload and sync requests in flight, connections,
   * listeners.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.libp2p.services.pubsub.removeEventListener("gossipsub:message", this.#onMessage);
    this.libp2p.removeEventListener("peer:identify", this.#onIdentify);
    this.libp2p.removeEventListener("peer:connect", this.#onConnect);
    this.libp2p.removeEventListener("peer:disconnect", this.#onDisconnect);
    this.#handlers.clear();
    await this.#saveBook();
    await this.libp2p.stop();
  }

  #checkTopic(topic: string): void {
    if (!this.#gossip.topics.includes(topic)) {
      throw new NetError(
        "invalid_argument",
        `${String(topic).slice(0, 80)} is not a topic of this run`,
      );
    }
  }

  #onMessage = (
    evt: CustomEvent<{
      propagationSource: PeerId;
      msg: { type: string; topic: string; data: Uint8Array; from?: PeerId };
    }>,
  ) => {
    const msg = evt.detail.msg;
    if (msg.type !== "signed" || msg.from === undefined) return;
    const set = this.#handlers.get(msg.topic);
    if (set === undefined) return;
    const message: GossipMessage = {
      topic: msg.topic,
      data: plainBytes(msg.data),
      from: msg.from.toString(),
      via: evt.detail.propagationSource.toString(),
    };
    for (const handler of set) {
      try {
        const r = handler(message);
        if (r instanceof Promise) {
          r.catch((err) => this.#log(`gossip handler for ${msg.topic} failed: ${messageOf(err)}`));
        }
      } catch (err) {
        this.#log(`gossip handler for ${msg.topic} threw: ${messageOf(err)}`);
      }
    }
  };

  #onIdentify = (evt: CustomEvent<{ peerId: PeerId; listenAddrs: Multiaddr[] }>) => {
    // A listen-only-on-loopback or dial-only peer lists nothing dialable: nothing is learned.
    this.#book.met(evt.detail.peerId.toString(), evt.detail.listenAddrs.map((m) => m.toString()));
  };

  /** A connected peer's entry outlasts the met ones (fresh keys that connect are met too). */
  #onConnect = (evt: CustomEvent<PeerId>) => {
    this.#book.connected(evt.detail.toString(), true);
  };

  #onDisconnect = (evt: CustomEvent<PeerId>) => {
    const id = evt.detail.toString();
    this.#book.connected(id, false);
    if (this.#stopped) return;
    (this.#kept.get(id) ?? this.#bookDials.get(id))?.lost(Date.now());
  };

  /**
   * One maintenance pass: re-dials the kept peers that are due, then, while the node has fewer
   * than `wantPeers` connections, the address book's peers (in its order, each with its own
   * backoff up to a minute, at most {@linkcode MAX_PARALLEL_DIALS} at once), and writes a
   * changed book now and then. Dials run in the background; one in flight per peer. This is
   * the node's one dial policy: peers learned of elsewhere (announcements) go through the book.
   */
  #maintain(): void {
    if (this.#stopped) return;
    const now = Date.now();
    const connected = new Set(this.peers());
    for (const [id, k] of this.#kept) {
      if (connected.has(id)) k.connected(now);
      else if (k.due(now)) void this.#dial(id, k, true);
    }
    for (const k of this.#anonymous) {
      if (k.due(now)) void this.#dial(undefined, k, true);
    }
    for (const [id, k] of this.#bookDials) {
      if (connected.has(id)) k.connected(now);
      else if (!k.dialing && this.#book.get(id) === undefined) this.#bookDials.delete(id);
    }
    if (connected.size < this.#wantPeers) {
      let inFlight = [...this.#bookDials.values()].filter((k) => k.dialing).length;
      for (const e of this.#book.entries()) {
        if (inFlight >= MAX_PARALLEL_DIALS) break;
        if (connected.has(e.peerId) || this.#kept.has(e.peerId)) continue;
        let k = this.#bookDials.get(e.peerId);
        if (k === undefined) this.#bookDials.set(e.peerId, k = new Redial(BOOK_REDIAL_MAX_MS));
        if (k.due(now)) {
          inFlight++;
          void this.#dial(e.peerId, k, false);
        }
      }
    }
    if (this.#book.dirty && now - this.#savedAt >= BOOK_SAVE_MS) void this.#saveBook();
  }

  /**
   * Dials `id` at its explicit addresses and its book addresses (none known: nothing to do);
   * `k` says when the next try may start. Failures of kept peers are logged on the first and
   * every tenth.
   */
  async #dial(id: string | undefined, k: Redial, logged: boolean): Promise<void> {
    const book = id === undefined ? [] : this.#book.get(id)?.addresses ?? [];
    const all = [...k.explicit, ...book.map((a) => multiaddr(`${a}/p2p/${id}`))];
    const targets = [...new Map(all.map((m) => [m.toString(), m])).values()];
    if (targets.length === 0) return;
    k.dialStarted();
    try {
      const connection = await this.libp2p.dial(targets);
      k.dialEnded(Date.now(), true);
      // A bootstrap address without a peer id: once dialled its id is known, and it is kept as
      // that peer (re-dialled when the connection is lost, not every tick while connected).
      if (id === undefined) this.#promote(k, connection.remotePeer.toString());
    } catch (err) {
      if (this.#stopped) {
        k.dialing = false;
        return;
      }
      k.dialEnded(Date.now(), false);
      if (logged && (k.failures === 1 || k.failures % 10 === 0)) {
        const what = targets.map((m) => m.toString()).join(", ");
        this.#log(
          `dial ${what} failed${k.failures > 1 ? ` ${k.failures} times` : ""}: ${
            oneLine(messageOf(err)).slice(0, 200)
          }`,
        );
      }
    }
  }

  /** Moves an anonymous bootstrap entry to the kept peers under the id it turned out to have. */
  #promote(k: Redial, peerId: string): void {
    const i = this.#anonymous.indexOf(k);
    if (i >= 0) this.#anonymous.splice(i, 1);
    if (peerId === this.peerId) return;
    this.#book.keep(peerId);
    const kept = this.#kept.get(peerId);
    if (kept === undefined) this.#kept.set(peerId, k);
    else kept.explicit.push(...k.explicit);
  }

  /** Writes a changed book; one write at a time, and `stop` waits for the one in flight. */
  #saveBook(): Promise<void> {
    this.#savedAt = Date.now();
    this.#saving = this.#saving.then(() =>
      this.#book.save().catch((e) => this.#log(`address book not saved: ${messageOf(e)}`))
    );
    return this.#saving;
  }
}

function parseMultiaddr(text: string): Multiaddr {
  try {
    return multiaddr(text);
  } catch (err) {
    throw new NetError("invalid_argument", `bad multiaddr ${String(text).slice(0, 80)}`, {
      cause: err,
    });
  }
}

function parsePeerId(text: string): PeerId {
  try {
    return peerIdFromString(text);
  } catch (err) {
    throw new NetError("invalid_argument", `bad peer id ${String(text).slice(0, 80)}`, {
      cause: err,
    });
  }
}

/** A multi-line error message (libp2p lists failed addresses with stacks) as one line. */
function oneLine(text: string): string {
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("at "))
    .join(" ").slice(0, 500);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
