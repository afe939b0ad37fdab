/**
 * Gossipsub configuration and the bridge from webloco's pluggable message validator to
 * gossipsub's topic validators.
 *
 * Every message on a webloco topic goes through, in order: gossipsub's own checks (StrictSign:
 * a valid libp2p signature, author and sequence number), the per-topic size limit, then the
 * application `validate(topic, data, from)`. "reject" (and a validator that throws) makes
 * gossipsub drop the message and count an invalid delivery against the peer that sent it,
 * which lowers its score (P4, weight {@linkcode INVALID_MESSAGE_WEIGHT}); "ignore" drops the
 * message without a penalty (use it for stale windows, duplicates, messages from the future).
 *
 * @module
 */

import {
  type GossipsubOpts,
  type Message,
  StrictSign,
  type TopicValidatorFn,
  TopicValidatorResult,
} from "@libp2p/gossipsub";
import type {
  PeerScoreParams,
  PeerScoreThresholds,
  TopicScoreParams,
} from "@libp2p/gossipsub/score";
import type { PeerId } from "@libp2p/interface";
import { DEFAULT_TOPIC_MAX_BYTES, GOSSIP_MAX_MESSAGE_BYTES } from "./protocols.ts";

/** A validator's decision about one gossip message. */
export type Verdict = "accept" | "reject" | "ignore";

/**
 * Decides about one received gossip message: `topic`, its `data`, and `from`, the libp2p peer
 * id (text) of its author (checked by gossipsub's signature). It runs for every received
 * message before it is delivered or forwarded; it must not throw (a throw counts as "reject").
 */
export type GossipValidator = (
  topic: string,
  data: Uint8Array,
  from: string,
) => Verdict | Promise<Verdict>;

/** Score weight of one invalid message delivery (squared counter × weight × topic weight). */
export const INVALID_MESSAGE_WEIGHT: number = -10;

/**
 * Per-topic score parameters for webloco's low-rate topics: invalid messages cost
 * ({@linkcode INVALID_MESSAGE_WEIGHT} × count²: one brings a peer below 0 and below the gossip
 * threshold, three below the graylist threshold), decaying over ~10 minutes; first deliveries
 * earn a little; no mesh-delivery-rate penalties (announcements are too rare for them).
 */
export function weblocoTopicScoreParams(): TopicScoreParams {
  return {
    topicWeight: 1,
    timeInMeshWeight: 0.001,
    timeInMeshQuantum: 1_000,
    timeInMeshCap: 3_600,
    firstMessageDeliveriesWeight: 0.5,
    firstMessageDeliveriesDecay: 0.999,
    firstMessageDeliveriesCap: 20,
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 100,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5_000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    invalidMessageDeliveriesWeight: INVALID_MESSAGE_WEIGHT,
    invalidMessageDeliveriesDecay: 0.99,
  };
}

/** Gossip settings of a webloco node. */
export interface GossipConfig {
  /** The only topics this node handles (messages and subscriptions for others are dropped). */
  topics: readonly string[];
  /** The application message validator. */
  validate: GossipValidator;
  /** Size limit of a message's data per topic, or one for all (default 64 KiB). */
  topicMaxBytes?: number | Readonly<Record<string, number>>;
  /** Wire limit of one gossipsub message, inbound and outbound (default 1 MiB). */
  maxMessageBytes?: number;
  /** Overrides of peer score parameters (topics default to {@linkcode weblocoTopicScoreParams}). */
  scoreParams?: Partial<PeerScoreParams>;
  /** Overrides of peer score thresholds (gossipsub's defaults: -10, -50, -80). */
  scoreThresholds?: Partial<PeerScoreThresholds>;
  /** An application score per peer id (weight 1), e.g. from the validator's ratings. */
  appScore?: (peerId: string) => number;
  /** Called for each rejected message, for logs. */
  onReject?: (topic: string, from: string, reason: string) => void;
}

/** The size limit of `topic` under `config`. */
export function topicLimit(config: Pick<GossipConfig, "topicMaxBytes">, topic: string): number {
  const t = config.topicMaxBytes;
  if (typeof t === "number") return t;
  return t?.[topic] ?? DEFAULT_TOPIC_MAX_BYTES;
}

/** Gossipsub options for a webloco node (StrictSign, size limits, scoring, allowed topics). */
export function gossipsubOptions(config: GossipConfig): Partial<GossipsubOpts> {
  const maxMessageBytes = config.maxMessageBytes ?? GOSSIP_MAX_MESSAGE_BYTES;
  const topics: Record<string, TopicScoreParams> = {};
  for (const t of config.topics) topics[t] = weblocoTopicScoreParams();
  return {
    globalSignaturePolicy: StrictSign,
    emitSelf: false,
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    allowedTopics: new Set(config.topics),
    // An RPC frame is the message plus protobuf framing, signature and key.
    maxInboundDataLength: maxMessageBytes + 16 * 1024,
    maxOutboundBufferSize: 16 * maxMessageBytes,
    scoreParams: {
      IPColocationFactorThreshold: 64,
      appSpecificWeight: 1,
      ...(config.appScore !== undefined ? { appSpecificScore: safeScore(config.appScore) } : {}),
      ...config.scoreParams,
      topics: { ...topics, ...config.scoreParams?.topics },
    },
    scoreThresholds: config.scoreThresholds,
  };
}

function safeScore(f: (peerId: string) => number): (peerId: string) => number {
  return (p) => {
    try {
      const s = f(p);
      return Number.isFinite(s) ? s : 0;
    } catch {
      return 0;
    }
  };
}

/**
 * A gossipsub topic validator for `topic`: rejects unsigned and oversized messages, then asks
 * `config.validate`. Never throws.
 */
export function topicValidator(config: GossipConfig, topic: string): TopicValidatorFn {
  const limit = topicLimit(config, topic);
  const reject = (from: string, reason: string) => {
    try {
      config.onReject?.(topic, from, reason);
    } catch { /* logging only */ }
    return TopicValidatorResult.Reject;
  };
  return async (_propagationSource: PeerId, msg: Message) => {
    if (msg.type !== "signed") return reject("?", "unsigned message");
    const from = msg.from.toString();
    if (msg.topic !== topic) return reject(from, "topic mismatch");
    if (!(msg.data instanceof Uint8Array)) return reject(from, "no data");
    if (msg.data.byteLength > limit) {
      return reject(from, `message of ${msg.data.byteLength} bytes, limit ${limit}`);
    }
    let verdict: Verdict;
    try {
      verdict = await config.validate(topic, plainBytes(msg.data), from);
    } catch (err) {
      return reject(from, `validator threw: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (verdict === "accept") return TopicValidatorResult.Accept;
    if (verdict === "ignore") return TopicValidatorResult.Ignore;
    return reject(
      from,
      verdict === "reject" ? "rejected by validator" : `bad verdict ${String(verdict)}`,
    );
  };
}

/**
 * A plain Uint8Array view of `bytes` (gossipsub hands out Node Buffers, whose `slice` does not
 * copy and whose prototype differs; the application sees plain arrays only).
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Installs {@linkcode topicValidator}s for every configured topic on a gossipsub instance. */
export function installTopicValidators(
  pubsub: { topicValidators: Map<string, TopicValidatorFn> },
  config: GossipConfig,
): void {
  for (const topic of config.topics) {
    pubsub.topicValidators.set(topic, topicValidator(config, topic));
  }
}
