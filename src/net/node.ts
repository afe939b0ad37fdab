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
import { NetError } from "./errors.ts";
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
import { type ContentService, contentService, type ContentServiceInit } from "./content_protocol.ts";
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
  /** How often to re-dial disconnected bootstrap peers (default 10 s; 0: never). */
  bootstrapIntervalMs?: number;
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

/** A received, validated gossip message. */
export interface GossipMessage {
  /** The topic. */
  topic: string;
  /** The message data. */
  data: Uint8Array;
  /** The libp2p peer id (text) of its author. */
  from: string;
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
  #bootstrapTimer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;

  private constructor(
    libp2p: WeblocoLibp2p,
    parts: { store: PayloadStore; gossip: GossipConfig; topics: RunTopics },
    log: (line: string) => void,
  ) {
    this.libp2p = libp2p;
    this.store = parts.store;
    this.topics = parts.topics;
    this.#gossip = parts.gossip;
    this.#log = log;
  }

  /**
   * Wraps a created (not yet started) libp2p node built from {@linkcode weblocoLibp2pOptions},
   * installs the validators, starts it and dials the bootstrap peers (in the background).
   */
  static async start(
    libp2p: WeblocoLibp2p,
    parts: { store: PayloadStore; gossip: GossipConfig; topics: RunTopics },
    options: Pick<WeblocoNodeOptions, "bootstrap" | "bootstrapIntervalMs" | "log">,
  ): Promise<WeblocoNode> {
    const bootstrap = (options.bootstrap ?? []).map(parseMultiaddr);
    const node = new WeblocoNode(libp2p, parts, options.log ?? (() => {}));
    installTopicValidators(libp2p.services.pubsub, parts.gossip);
    libp2p.services.pubsub.addEventListener("message", node.#onMessage);
    try {
      await libp2p.start();
    } catch (err) {
      await Promise.resolve().then(() => libp2p.stop()).catch(() => {});
      throw new NetError("start", `cannot start the node: ${oneLine(messageOf(err))}`, {
        cause: err,
      });
    }
    if (bootstrap.length > 0) {
      node.#startBootstrap(bootstrap, options.bootstrapIntervalMs ?? 10_000);
    }
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
    if (this.#bootstrapTimer !== undefined) clearInterval(this.#bootstrapTimer);
    this.libp2p.services.pubsub.removeEventListener("message", this.#onMessage);
    this.#handlers.clear();
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
    evt: CustomEvent<{ type: string; topic: string; data: Uint8Array; from?: PeerId }>,
  ) => {
    const msg = evt.detail;
    if (msg.type !== "signed" || msg.from === undefined) return;
    const set = this.#handlers.get(msg.topic);
    if (set === undefined) return;
    const message: GossipMessage = {
      topic: msg.topic,
      data: plainBytes(msg.data),
      from: msg.from.toString(),
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

  #startBootstrap(targets: Multiaddr[], intervalMs: number): void {
    let running = false;
    const tick = async () => {
      if (running || this.#stopped) return;
      running = true;
      try {
        await Promise.all(targets.map(async (ma) => {
          const id = ma.getComponents().find((c) => c.name === "p2p")?.value;
          if (id !== undefined && this.libp2p.getConnections(peerIdFromString(id)).length > 0) {
            return;
          }
          try {
            await this.libp2p.dial(ma);
          } catch (err) {
            if (!this.#stopped) {
              this.#log(`bootstrap dial ${ma.toString()} failed: ${messageOf(err)}`);
            }
          }
        }));
      } finally {
        running = false;
      }
    };
    void tick();
    if (intervalMs > 0) this.#bootstrapTimer = setInterval(() => void tick(), intervalMs);
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
