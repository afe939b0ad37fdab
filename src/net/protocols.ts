/**
 * Protocol ids, gossip topic names and the size limits of the webloco wire.
 *
 * Topics carry the run in their name, `/webloco/<runIdHex8>/<kind>/<version>`, so that peers
 * of different runs never share a mesh; the full 32-byte run id is still checked by the message
 * validator (eight hex digits are a namespace, not a proof).
 *
 * ```
 * /webloco/1a2b3c4d/peers/1     signed peer announcements
 * /webloco/1a2b3c4d/updates/1   signed update announcements (window, payload hash, size)
 * /webloco/1a2b3c4d/rounds/1    signed round records
 * /webloco/payload/1.0.0        request/response: payload bytes by sha256
 * /webloco/sync/1.0.0           request/response: round records since a window, newest checkpoint
 * /webloco/content/1.0.0        request/response: a genesis file's manifest or chunk by sha256
 * ```
 *
 * @module
 */

import { hex } from "../util/hex.ts";

/** Prefix of every webloco protocol id and topic. */
export const PROTOCOL_PREFIX = "/webloco";

/** The payload fetch protocol (request: sha256; response: status, length, bytes). */
export const PAYLOAD_PROTOCOL = "/webloco/payload/1.0.0";

/**
 * The history sync protocol (request: version, first window; response: status, length, the
 * newest checkpoint pointer and signed round records). See `sync_protocol.ts`.
 */
export const SYNC_PROTOCOL = "/webloco/sync/1.0.0";

/** The content protocol (corpus shards and tokenizer by sha256, chunked). See `content_protocol.ts`. */
export const CONTENT_PROTOCOL = "/webloco/content/1.0.0";

/** Version of the topic layout; part of every topic name. */
export const TOPIC_VERSION = 1;

/** The gossip topics of a run, by kind. */
export const TOPIC_KINDS = ["peers", "updates", "rounds"] as const;

/** One of {@linkcode TOPIC_KINDS}. */
export type TopicKind = typeof TOPIC_KINDS[number];

/** Hard limit of one gossipsub message on the wire (inbound and outbound), 1 MiB. */
export const GOSSIP_MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * Default size limit of the data of one message on a webloco topic (64 KiB). The message
 * formats are far smaller (a few KiB); the message validator checks the exact size per kind.
 */
export const DEFAULT_TOPIC_MAX_BYTES = 64 * 1024;

/** Default largest payload served or fetched (256 MiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;

/** Length of a payload hash (sha256). */
export const HASH_BYTES = 32;

/** Length in hex digits of the run id prefix in topic names. */
export const RUN_ID_HEX_CHARS = 8;

const HEX8 = /^[0-9a-f]{8}$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;

/**
 * The first eight hex digits (lower case) of a run id, given as bytes (at least 4) or as hex
 * text (at least 8 digits).
 */
export function runIdHex8(runId: Uint8Array | string): string {
  if (typeof runId === "string") {
    if (runId.length < RUN_ID_HEX_CHARS || !HEX.test(runId)) {
      throw new TypeError(`run id must be hex of at least ${RUN_ID_HEX_CHARS} digits`);
    }
    return runId.slice(0, RUN_ID_HEX_CHARS).toLowerCase();
  }
  if (!(runId instanceof Uint8Array) || runId.length < RUN_ID_HEX_CHARS / 2) {
    throw new TypeError(`run id must be at least ${RUN_ID_HEX_CHARS / 2} bytes`);
  }
  return hex(runId.subarray(0, RUN_ID_HEX_CHARS / 2));
}

/** The topic name of one kind of message of a run: `/webloco/<runIdHex8>/<kind>/1`. */
export function topicName(runId: Uint8Array | string, kind: TopicKind): string {
  if (!TOPIC_KINDS.includes(kind)) throw new TypeError(`unknown topic kind ${String(kind)}`);
  return `${PROTOCOL_PREFIX}/${runIdHex8(runId)}/${kind}/${TOPIC_VERSION}`;
}

/** The topic names of a run, by kind. */
export type RunTopics = Readonly<Record<TopicKind, string>>;

/** All topic names of a run. */
export function runTopics(runId: Uint8Array | string): RunTopics {
  return Object.freeze({
    peers: topicName(runId, "peers"),
    updates: topicName(runId, "updates"),
    rounds: topicName(runId, "rounds"),
  });
}

/** The parts of a webloco topic name. */
export interface ParsedTopic {
  /** Eight lower-case hex digits of the run id. */
  runIdHex8: string;
  /** Which messages the topic carries. */
  kind: TopicKind;
  /** The topic layout version. */
  version: number;
}

/** Parses a webloco topic name; `null` for anything else (never throws). */
export function parseTopic(topic: string): ParsedTopic | null {
  if (typeof topic !== "string" || topic.length > 64) return null;
  const parts = topic.split("/");
  // "", "webloco", hex8, kind, version
  if (parts.length !== 5 || parts[0] !== "" || `/${parts[1]}` !== PROTOCOL_PREFIX) return null;
  const [, , hex8, kind, version] = parts;
  if (!HEX8.test(hex8)) return null;
  if (!(TOPIC_KINDS as readonly string[]).includes(kind)) return null;
  if (!/^[1-9][0-9]{0,3}$/.test(version)) return null;
  return { runIdHex8: hex8, kind: kind as TopicKind, version: Number(version) };
}
