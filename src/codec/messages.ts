/**
 * The signed gossip messages of a run, their binary encoding, and a strict verifier that
 * never throws on hostile input.
 *
 * Binary rather than canonical JSON: every field has a fixed width or an explicit length, so
 * the decoder checks an exact size and accepts exactly one encoding per message (gossipsub
 * can dedupe by hash, the signature covers the bytes as sent), there is no text parser on the
 * untrusted path, and an update announcement is 216 bytes. All integers little-endian.
 *
 * ```
 * header (80 bytes)
 *   0  magic "WLMS"            4 bytes
 *   4  format version          u8 (1)
 *   5  kind                    u8 (1 peer-announce, 2 update-announce, 3 round-record,
 *                              4 record-vote)
 *   6  flags                   u16 (0x0100: a delegation precedes the signature; 0x0200: scored
 *                              peers carry wallets, round records only; other bits 0)
 *   8  run id                  32 bytes (SHA-256 of the canonical genesis)
 *  40  sender                  32 bytes (sr25519 public key)
 *  72  timestamp               u64 (ms since the epoch, < 2^53)
 * body: peer-announce (99 + addresses)
 *      peer key                32 bytes (Ed25519 public key of the libp2p identity)
 *      peer signature          64 bytes (by that key over "webloco/peer-bind/v1" ‖ run id ‖ sender)
 *      capabilities            u16 (bit i = CAPABILITIES[i]; other bits 0)
 *      address count           u8 (0..16), then per address: u8 length (2..255), ASCII multiaddr
 * body: update-announce (72)
 *      window u32, model hash 32, payload hash 32, payload size u32 (≥ 78, the update header)
 * body: round-record (71 + 64 per contributor + 77 per scored peer, + 4 with a validation loss)
 *      window u32, model hash 32 (θ_w), next model hash 32 (θ_{w+1}),
 *      contributor count u8 (0..64), then per contributor: sr25519 key 32, payload hash 32,
 *      keys strictly ascending (bytewise);
 *      scored count u16 (0..256), then per scored peer: sr25519 key 32, gradient score f32,
 *      final score f32, verdict u8 (VERDICTS), until u32 (a ban's last window, else 0),
 *      other key 32 (whom a copy copied, else zeros), keys strictly ascending;
 *      with flag 0x0200 each scored peer then has wallet 32 (the wallet its delegated session
 *      key speaks for, else zeros; at least one is not zeros; 32 more bytes per scored peer)
 *      then, optionally, validation loss f32 (finite, ≥ 0; absent in records made before it)
 * body: record-vote (36; only with a genesis `quorum`, docs/VALIDATORS.md)
 *      window u32, record hash 32 (SHA-256 of the signed round-record message voted for)
 * delegation (flag 0x0100)     112 bytes: a wallet's (src/identity/delegation.ts); no round record
 *                              or vote has one
 * signature                    64 bytes: sr25519 by the sender over DOMAIN[kind] ‖ all bytes before it
 * ```
 *
 * A round certificate (what a run with a genesis `quorum` keeps, serves and applies) is not a
 * gossip message but the record with its votes, {@linkcode encodeCertificate}:
 *
 * ```
 *   0  magic "WLRC"  4 bytes,  4  vote count u8 (1..16),  5  record length u32,
 *   9  the signed round-record message, then each vote message (180 bytes), voters ascending
 * ```
 *
 * The domain string ("webloco/<kind>/v1") keeps a signature from being valid for any other
 * purpose of the same key. The peer announcement is signed by both keys: the sr25519 key over
 * the whole message, and the libp2p key over the sr25519 key, so neither can be claimed by
 * another's holder.
 *
 * @module
 */

import { base58Decode, base58Encode, ed25519Verify } from "@polkadot/util-crypto";
import { DEFAULT_MAX_UPDATE_BYTES, UPDATE_HEADER_BYTES } from "./update_codec.ts";
import { addressFromPublicKey, publicKeyFromAddress } from "../identity/address.ts";
import { type Signer, verify } from "../identity/signer.ts";
import { DELEGATION_BYTES } from "../identity/delegation.ts";
import { isMultiaddrText } from "./multiaddr_text.ts";
import { bytesEqual } from "../util/bytes.ts";

/** The three gossip message kinds. */
export type MessageKind = "peer-announce" | "update-announce" | "round-record" | "record-vote";

/** What a peer offers; bit i of the capabilities field is `CAPABILITIES[i]`. */
export const CAPABILITIES = [
  "train",
  "validate",
  "serve-payloads",
  "serve-checkpoints",
  "relay",
] as const;

/** One capability. */
export type Capability = typeof CAPABILITIES[number];

/** "I am this sr25519 key, reachable as this libp2p peer at these addresses." */
export interface PeerAnnounceBody {
  /** Discriminator. */
  kind: "peer-announce";
  /** Ed25519 public key of the libp2p identity (its peer id is {@linkcode peerIdFromKey}). */
  peerKey: Uint8Array;
  /** The libp2p key's Ed25519 signature of {@linkcode peerBindingBytes}(run id, sender). */
  peerSignature: Uint8Array;
  /** Multiaddrs to dial, most preferred first (at most 16, no repeats). */
  addresses: string[];
  /** What the peer offers. */
  capabilities: Capability[];
}

/** A decoded peer announcement: the body plus the libp2p peer id ("12D3KooW…"). */
export interface PeerAnnounce extends PeerAnnounceBody {
  /** The libp2p peer id of `peerKey`, base58btc ("12D3KooW…"). */
  peerId: string;
}

/** "My update for this window, trained from this model, is this payload." */
export interface UpdateAnnounce {
  /** Discriminator. */
  kind: "update-announce";
  /** The window the update was trained in (uint32). */
  window: number;
  /** Hash of θ_w the update was trained from (32 bytes). */
  modelHash: Uint8Array;
  /** SHA-256 of the encoded update payload (32 bytes). */
  payloadHash: Uint8Array;
  /** Payload size in bytes. */
  size: number;
}

/** One selected contributor of a round. */
export interface Contributor {
  /** SS58 address (any prefix on encoding; prefix 42 when decoded). */
  address: string;
  /** SHA-256 of the payload that was aggregated (32 bytes). */
  payloadHash: Uint8Array;
}

/**
 * What the validator decided about one submitter of a window, and why. Carried in the round
 * record so that every peer (and the live view) sees its own score and reason, and anyone can
 * recompute the credit table from signed records alone.
 */
export const VERDICTS = [
  "selected",
  "reserve",
  "not-evaluated",
  "negative-score",
  "no-gain",
  "small-gain",
  "copy",
  "banned",
  "negative-streak",
  "refused",
  "below-cap",
  "not-own-data",
] as const;

/** One of {@linkcode VERDICTS}. */
export type VerdictCode = (typeof VERDICTS)[number];

/** One scored submitter of a round. */
export interface ScoredPeer {
  /** SS58 address. */
  address: string;
  /** Relative loss drop of its update on unassigned data (NaN when not evaluated). */
  gradScore: number;
  /** Final score after ratings and penalties (float32 on the wire). */
  score: number;
  verdict: VerdictCode;
  /** For bans: the last window of the ban; else 0. */
  until: number;
  /** For copies: the address copied; else null. */
  other: string | null;
  /**
   * The wallet `address` is a delegated session key of, as the validator learned it from the
   * key's verified delegation (src/identity/delegation.ts): signed into the record so that any
   * node can key credit by wallet from the records alone. Absent: the key speaks for itself (a
   * record with none is encoded as before this field existed).
   */
  wallet?: string;
}

/** Most scored peers in one round record. */
export const MAX_SCORED = 256;

/** "Window w aggregated these payloads; θ_w → θ_{w+1}." Only the genesis validators may sign one. */
export interface RoundRecord {
  /** Discriminator. */
  kind: "round-record";
  /** The window aggregated (uint32). */
  window: number;
  /** Hash of θ_w (32 bytes). */
  modelHash: Uint8Array;
  /** Hash of θ_{w+1} after aggregation and the outer step (32 bytes). */
  nextModelHash: Uint8Array;
  /** The selected contributors (any order when encoding; ascending by key when decoded). */
  contributors: Contributor[];
  /**
   * Every submitter the validator judged and why (any order when encoding, none when absent;
   * ascending by key when decoded, always present).
   */
  scored?: ScoredPeer[];
  /**
   * Held-out loss of θ_w, the model this record starts from (nats/token, float32 on the wire),
   * as the validator measured it while the window was open; absent when it did not (and in
   * records made before the field existed).
   */
  validLoss?: number;
}

/**
 * "I, a genesis validator, vote for this round record of this window" (a genesis with a
 * `quorum`): a record counts once a quorum of validators voted for it. An honest validator
 * votes once per window, only for a record whose aggregate it recomputed (docs/VALIDATORS.md).
 */
export interface RecordVote {
  /** Discriminator. */
  kind: "record-vote";
  /** The record's window (uint32). */
  window: number;
  /** SHA-256 of the signed round-record message (32 bytes). */
  recordHash: Uint8Array;
}

/** A body to sign. */
export type MessageBody = PeerAnnounceBody | UpdateAnnounce | RoundRecord | RecordVote;

/** A body as decoded. */
export type DecodedBody = PeerAnnounce | UpdateAnnounce | RoundRecord | RecordVote;

/** What {@linkcode signMessage} needs besides the signer. */
export interface MessageDraft {
  /** The run id (32 bytes). */
  runId: Uint8Array;
  /** When the message was made (ms since the epoch). */
  timestamp: number;
  /** What the message says. */
  body: MessageBody;
}

/** A decoded (and, from {@linkcode verifyMessage}, verified) message. */
export interface Message {
  /** The run id (32 bytes). */
  runId: Uint8Array;
  /** Sender's SS58 address (prefix 42). */
  sender: string;
  /** Sender's sr25519 public key. */
  senderKey: Uint8Array;
  /** When the sender made it (ms since the epoch). */
  timestamp: number;
  /** What the message says. */
  body: DecodedBody;
  /** The sender's sr25519 signature. */
  signature: Uint8Array;
  /** A wallet's delegation to the sender (checked by src/protocol/gossip_rules.ts). */
  delegation?: Uint8Array;
}

/** Why a message was refused. */
export type RejectReason =
  | "malformed"
  | "oversized"
  | "unknown-run"
  | "wrong-window"
  | "stale"
  | "unauthorized"
  | "bad-signature";

/** A refused message: the reason (for scoring and metrics) and one line for logs. */
export interface Rejection {
  /** Always false. */
  ok: false;
  /** Why, for scoring and metrics. */
  reason: RejectReason;
  /** One line for logs. */
  detail: string;
}

/** The outcome of {@linkcode decodeMessage} and {@linkcode verifyMessage}. */
export type MessageResult = { ok: true; message: Message } | Rejection;

/** Context of {@linkcode verifyMessage}. */
export interface VerifyOptions {
  /** The run id this node is in. */
  runId: Uint8Array;
  /** The genesis validators (SS58 addresses or keys): only they may sign records and votes. */
  validators: readonly (string | Uint8Array)[];
  /** Window(s) accepted for update announcements and round records; any when absent. */
  expectedWindow?: number | readonly number[];
  /** The current time (ms); no freshness check when absent (e.g. replaying round records). */
  now?: number;
  /** Largest |timestamp − now| accepted, ms (default 60 s). */
  maxSkewMs?: number;
  /** Largest update payload an announcement may announce (default 64 MiB). */
  maxPayloadBytes?: number;
  /** Most contributors a round record may select (default 64; pass the genesis' `maxContributors`). */
  maxContributors?: number;
}

/** A draft that cannot be encoded (a bug in the caller, not hostile input). */
export class MessageError extends Error {
  /** "MessageError". */
  override name = "MessageError";
}

/** "WLMS". */
export const MESSAGE_MAGIC: Uint8Array = new Uint8Array([0x57, 0x4c, 0x4d, 0x53]);
/** The format version this module writes and reads. */
export const MESSAGE_FORMAT_VERSION = 1;
/** Bytes before the body. */
export const MESSAGE_HEADER_BYTES = 80;
/** Bytes of a run id (the SHA-256 of the run's genesis). */
export const RUN_ID_BYTES = 32;
/** Most contributors a round record carries (a genesis' `maxContributors` is at most this). */
export const MAX_CONTRIBUTORS_LIMIT = 64;
/** Most addresses in a peer announcement. */
export const MAX_ADDRESSES = 16;
/** Default of {@linkcode VerifyOptions.maxSkewMs}. */
export const DEFAULT_MAX_SKEW_MS = 60_000;

const SIG = 64;
const KEY = 32;
const HASH = 32;
const KINDS: readonly MessageKind[] = [
  "peer-announce",
  "update-announce",
  "round-record",
  "record-vote",
];
const PEER_FIXED = KEY + SIG + 2 + 1;
const UPDATE_BODY = 4 + HASH + HASH + 4;
const VOTE_BODY = 4 + HASH;
const ROUND_FIXED = 4 + HASH + HASH + 1 + 2;
const SCORED_ENTRY = KEY + 4 + 4 + 1 + 4 + KEY;
const DELEGATED = 0x0100;
const VALID_LOSS = 4;
const WALLETS = 0x0200;

/** Largest encoding of each kind. */
export const MAX_MESSAGE_BYTES_BY_KIND: Readonly<Record<MessageKind, number>> = Object.freeze({
  "peer-announce": MESSAGE_HEADER_BYTES + PEER_FIXED + MAX_ADDRESSES * 256 + SIG,
  "update-announce": MESSAGE_HEADER_BYTES + UPDATE_BODY + SIG,
  "round-record": MESSAGE_HEADER_BYTES + ROUND_FIXED + MAX_CONTRIBUTORS_LIMIT * (KEY + HASH) +
    MAX_SCORED * (SCORED_ENTRY + KEY) + VALID_LOSS + SIG,
  "record-vote": MESSAGE_HEADER_BYTES + VOTE_BODY + SIG,
});

/** Largest message of any kind (a gossipsub size limit can use it). */
export const MAX_MESSAGE_BYTES: number = Math.max(...Object.values(MAX_MESSAGE_BYTES_BY_KIND));

const encoder = new TextEncoder();
const DOMAINS: Readonly<Record<MessageKind, Uint8Array>> = {
  "peer-announce": encoder.encode("webloco/peer-announce/v1"),
  "update-announce": encoder.encode("webloco/update-announce/v1"),
  "round-record": encoder.encode("webloco/round-record/v1"),
  "record-vote": encoder.encode("webloco/record-vote/v1"),
};
const PEER_BIND_DOMAIN = encoder.encode("webloco/peer-bind/v1");

// libp2p peer id of an Ed25519 key: identity multihash (0x00, length 36) of the protobuf
// PublicKey { Type: Ed25519 (field 1 = 1), Data (field 2, 32 bytes) }.
const PEER_ID_PREFIX = new Uint8Array([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The libp2p peer id ("12D3KooW…") of an Ed25519 public key. */
export function peerIdFromKey(peerKey: Uint8Array): string {
  if (!(peerKey instanceof Uint8Array) || peerKey.length !== KEY) {
    throw new MessageError(`an Ed25519 peer key is 32 bytes, got ${peerKey?.length}`);
  }
  return base58Encode(concat(PEER_ID_PREFIX, peerKey));
}

/** The Ed25519 public key inside a libp2p peer id; throws for ids of other key types. */
export function peerKeyFromPeerId(peerId: string): Uint8Array {
  let mh: Uint8Array;
  try {
    mh = base58Decode(peerId);
  } catch {
    throw new MessageError(`not a base58 libp2p peer id: ${JSON.stringify(peerId)}`);
  }
  if (
    mh.length !== PEER_ID_PREFIX.length + KEY ||
    !bytesEqual(mh.subarray(0, PEER_ID_PREFIX.length), PEER_ID_PREFIX)
  ) {
    throw new MessageError(`not an Ed25519 libp2p peer id: ${JSON.stringify(peerId)}`);
  }
  return mh.slice(PEER_ID_PREFIX.length);
}

/**
 * What the libp2p identity key signs to bind itself to an sr25519 key in a run:
 * "webloco/peer-bind/v1" ‖ run id ‖ sr25519 public key. With libp2p:
 * `peerSignature = await privateKey.sign(peerBindingBytes(runId, signer.publicKey))`.
 */
export function peerBindingBytes(runId: Uint8Array, sender: Uint8Array | string): Uint8Array {
  const key = keyOf(sender) ?? fail(`sender is not an SS58 address: ${JSON.stringify(sender)}`);
  checkBytes(runId, RUN_ID_BYTES, "runId");
  checkBytes(key, KEY, "sender key");
  return concat(PEER_BIND_DOMAIN, runId, key);
}

function fail(what: string): never {
  throw new MessageError(what);
}

function checkBytes(v: unknown, n: number, what: string): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== n) {
    throw new MessageError(
      `${what} must be ${n} bytes, got ${v instanceof Uint8Array ? v.length : typeof v}`,
    );
  }
}

function checkU32(v: unknown, what: string, min = 0): asserts v is number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > 0xffffffff) {
    throw new MessageError(`${what} must be an integer in [${min}, 2^32), got ${v}`);
  }
}

class Writer {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private off = 0;
  constructor(n: number) {
    this.bytes = new Uint8Array(n);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(v: number) {
    this.view.setUint8(this.off++, v);
  }
  u16(v: number) {
    this.view.setUint16(this.off, v, true);
    this.off += 2;
  }
  u32(v: number) {
    this.view.setUint32(this.off, v, true);
    this.off += 4;
  }
  f32(v: number) {
    this.view.setFloat32(this.off, v, true);
    this.off += 4;
  }
  u64(v: number) {
    this.u32(v % 2 ** 32);
    this.u32(Math.floor(v / 2 ** 32));
  }
  raw(b: Uint8Array) {
    this.bytes.set(b, this.off);
    this.off += b.length;
  }
}

interface Encodable {
  runId: Uint8Array;
  senderKey: Uint8Array;
  timestamp: number;
  body: MessageBody;
  delegation?: Uint8Array;
}

/** The bytes before the signature; throws MessageError on an invalid draft. */
function encodeUnsigned(m: Encodable): Uint8Array {
  checkBytes(m.runId, RUN_ID_BYTES, "runId");
  checkBytes(m.senderKey, KEY, "sender key");
  if (typeof m.timestamp !== "number" || !Number.isSafeInteger(m.timestamp) || m.timestamp < 0) {
    throw new MessageError(`timestamp must be an integer ≥ 0 (ms), got ${m.timestamp}`);
  }
  const b = m.body;
  const kind = KINDS.indexOf(b?.kind);
  if (kind < 0) throw new MessageError(`unknown message kind ${JSON.stringify(b?.kind)}`);
  let bodyBytes: number;
  let encodeBody: (w: Writer) => void;
  let withWallets = false;
  if (b.kind === "peer-announce") {
    checkBytes(b.peerKey, KEY, "peerKey");
    checkBytes(b.peerSignature, SIG, "peerSignature");
    if (!Array.isArray(b.addresses) || b.addresses.length > MAX_ADDRESSES) {
      throw new MessageError(`addresses must be an array of at most ${MAX_ADDRESSES}`);
    }
    for (const a of b.addresses) {
      if (!isMultiaddrText(a)) throw new MessageError(`not a multiaddr: ${JSON.stringify(a)}`);
    }
    if (new Set(b.addresses).size !== b.addresses.length) {
      throw new MessageError("addresses repeat");
    }
    if (!Array.isArray(b.capabilities)) throw new MessageError("capabilities must be an array");
    let caps = 0;
    for (const c of b.capabilities) {
      const bit = CAPABILITIES.indexOf(c);
      if (bit < 0) throw new MessageError(`unknown capability ${JSON.stringify(c)}`);
      caps |= 1 << bit;
    }
    bodyBytes = PEER_FIXED + b.addresses.reduce((n, a) => n + 1 + a.length, 0);
    encodeBody = (w) => {
      w.raw(b.peerKey);
      w.raw(b.peerSignature);
      w.u16(caps);
      w.u8(b.addresses.length);
      for (const a of b.addresses) {
        w.u8(a.length);
        w.raw(encoder.encode(a));
      }
    };
  } else if (b.kind === "update-announce") {
    checkU32(b.window, "window");
    checkBytes(b.modelHash, HASH, "modelHash");
    checkBytes(b.payloadHash, HASH, "payloadHash");
    checkU32(b.size, "size", UPDATE_HEADER_BYTES);
    bodyBytes = UPDATE_BODY;
    encodeBody = (w) => {
      w.u32(b.window);
      w.raw(b.modelHash);
      w.raw(b.payloadHash);
      w.u32(b.size);
    };
  } else if (b.kind === "record-vote") {
    checkU32(b.window, "window");
    checkBytes(b.recordHash, HASH, "recordHash");
    bodyBytes = VOTE_BODY;
    encodeBody = (w) => {
      w.u32(b.window);
      w.raw(b.recordHash);
    };
  } else {
    checkU32(b.window, "window");
    checkBytes(b.modelHash, HASH, "modelHash");
    checkBytes(b.nextModelHash, HASH, "nextModelHash");
    if (!Array.isArray(b.contributors) || b.contributors.length > MAX_CONTRIBUTORS_LIMIT) {
      throw new MessageError(`contributors must be an array of at most ${MAX_CONTRIBUTORS_LIMIT}`);
    }
    // Canonical order: ascending keys, so one record has one encoding.
    const entries = b.contributors.map((c) => {
      checkBytes(c?.payloadHash, HASH, "contributor payloadHash");
      return {
        key: keyOf(c.address) ??
          fail(`contributor address is not SS58: ${JSON.stringify(c.address)}`),
        hash: c.payloadHash,
      };
    }).sort((x, y) => compareBytes(x.key, y.key));
    for (let i = 1; i < entries.length; i++) {
      if (compareBytes(entries[i - 1].key, entries[i].key) === 0) {
        throw new MessageError("a contributor repeats");
      }
    }
    const given = b.scored ?? [];
    if (!Array.isArray(given) || given.length > MAX_SCORED) {
      throw new MessageError(`scored must be an array of at most ${MAX_SCORED}`);
    }
    const scored = given.map((s) => {
      const verdict = VERDICTS.indexOf(s?.verdict);
      if (verdict < 0) throw new MessageError(`unknown verdict ${JSON.stringify(s?.verdict)}`);
      checkU32(s.until, "scored until");
      if (typeof s.gradScore !== "number" || typeof s.score !== "number") {
        throw new MessageError("scored gradScore and score must be numbers");
      }
      return {
        key: keyOf(s.address) ?? fail(`scored address is not SS58: ${JSON.stringify(s.address)}`),
        other: s.other === null
          ? new Uint8Array(KEY)
          : keyOf(s.other) ?? fail(`scored other is not SS58: ${JSON.stringify(s.other)}`),
        wallet: s.wallet === undefined
          ? new Uint8Array(KEY)
          : keyOf(s.wallet) ?? fail(`scored wallet is not SS58: ${JSON.stringify(s.wallet)}`),
        s,
        verdict,
      };
    }).sort((x, y) => compareBytes(x.key, y.key));
    for (let i = 1; i < scored.length; i++) {
      if (compareBytes(scored[i - 1].key, scored[i].key) === 0) {
        throw new MessageError("a scored peer repeats");
      }
    }
    const validLoss = b.validLoss;
    if (validLoss !== undefined && !(Number.isFinite(validLoss) && validLoss >= 0)) {
      throw new MessageError(`validLoss must be a finite number ≥ 0, got ${validLoss}`);
    }
    for (const e of scored) {
      if (e.s.wallet !== undefined && compareBytes(e.wallet, e.key) === 0) {
        fail("a scored peer's wallet must differ from its own key (omit it)");
      }
    }
    withWallets = given.some((s) => s.wallet !== undefined);
    bodyBytes = ROUND_FIXED + entries.length * (KEY + HASH) +
      scored.length * (SCORED_ENTRY + (withWallets ? KEY : 0)) +
      (validLoss === undefined ? 0 : VALID_LOSS);
    encodeBody = (w) => {
      w.u32(b.window);
      w.raw(b.modelHash);
      w.raw(b.nextModelHash);
      w.u8(entries.length);
      for (const e of entries) {
        w.raw(e.key);
        w.raw(e.hash);
      }
      w.u16(scored.length);
      for (const e of scored) {
        w.raw(e.key);
        w.f32(e.s.gradScore);
        w.f32(e.s.score);
        w.u8(e.verdict);
        w.u32(e.s.until);
        w.raw(e.other);
        if (withWallets) w.raw(e.wallet);
      }
      if (validLoss !== undefined) w.f32(validLoss);
    };
  }
  const d = m.delegation;
  if (d !== undefined) {
    checkBytes(d, DELEGATION_BYTES, "delegation");
    if (b.kind === "round-record" || b.kind === "record-vote") {
      fail(`a ${b.kind} is signed by a validator key, not delegated`);
    }
  }
  const w = new Writer(MESSAGE_HEADER_BYTES + bodyBytes + (d?.length ?? 0));
  w.raw(MESSAGE_MAGIC);
  w.u8(MESSAGE_FORMAT_VERSION);
  w.u8(kind + 1);
  w.u16((d === undefined ? 0 : DELEGATED) | (withWallets ? WALLETS : 0));
  w.raw(m.runId);
  w.raw(m.senderKey);
  w.u64(m.timestamp);
  encodeBody(w);
  if (d !== undefined) w.raw(d);
  return w.bytes;
}

function signedBytes(kind: MessageKind, unsigned: Uint8Array): Uint8Array {
  return concat(DOMAINS[kind], unsigned);
}

/**
 * Encodes and signs a message with `signer` (its key becomes the sender). Throws
 * {@linkcode MessageError} for a draft that breaks the format (wrong lengths, too many
 * addresses or contributors, a repeated contributor, an unknown capability).
 *
 * @example
 * ```ts
 * const bytes = await signMessage(signer, {
 *   runId, timestamp: Date.now(),
 *   body: { kind: "update-announce", window: w, modelHash, payloadHash, size: payload.length },
 * });
 * ```
 */
export async function signMessage(signer: Signer, draft: MessageDraft): Promise<Uint8Array> {
  const unsigned = encodeUnsigned({
    ...draft,
    senderKey: signer.publicKey,
    delegation: signer.delegation,
  });
  const signature = await signer.sign(signedBytes(draft.body.kind, unsigned));
  checkBytes(signature, SIG, "the signer's signature");
  return concat(unsigned, signature);
}

/** Encodes a decoded message again (with its signature): the same bytes it was decoded from. */
export function encodeMessage(message: Message): Uint8Array {
  checkBytes(message.signature, SIG, "signature");
  const body = message.body;
  return concat(encodeUnsigned({ ...message, body }), message.signature);
}

/** Thrown inside the decoder only; verifyMessage turns it into a Rejection. */
class Reject {
  constructor(readonly reason: RejectReason, readonly detail: string) {}
}

/** The bits of NaN as `setFloat32` writes it: the only NaN a decoder accepts. */
const NAN_BITS = (() => {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, NaN, true);
  return v.getUint32(0, true);
})();

class Reader {
  private readonly view: DataView;
  off = 0;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string) {
    if (this.off + n > this.bytes.length) {
      throw new Reject(
        "malformed",
        `truncated: ${what} needs ${n} bytes at byte ${this.off}, ${
          this.bytes.length - this.off
        } left`,
      );
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.off++);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.off, true);
    this.off += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.off, true);
    this.off += 4;
    return v;
  }
  f32(what: string): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.off, true);
    // One encoding per message: a NaN only as the encoder writes it (found by the fuzzer).
    if (Number.isNaN(v) && this.view.getUint32(this.off, true) !== NAN_BITS) {
      throw new Reject("malformed", `${what} is a NaN other than the canonical one`);
    }
    this.off += 4;
    return v;
  }
  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const v = this.bytes.slice(this.off, this.off + n);
    this.off += n;
    return v;
  }
}

function malformed(detail: string): never {
  throw new Reject("malformed", detail);
}

function decodeOrThrow(bytes: Uint8Array): Message {
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw new Reject(
      "oversized",
      `${bytes.length} bytes, the largest message is ${MAX_MESSAGE_BYTES}`,
    );
  }
  if (bytes.length < MESSAGE_HEADER_BYTES + SIG) {
    malformed(`${bytes.length} bytes is shorter than any message`);
  }
  const r = new Reader(bytes);
  if (!bytesEqual(r.take(4, "magic"), MESSAGE_MAGIC)) {
    malformed("bad magic (not a webloco message)");
  }
  const version = r.u8("version");
  if (version !== MESSAGE_FORMAT_VERSION) malformed(`unsupported format version ${version}`);
  const kindByte = r.u8("kind");
  const kind = KINDS[kindByte - 1];
  if (!kind) malformed(`unknown kind ${kindByte}`);
  const flags = r.u16("flags");
  if ((flags & ~(DELEGATED | WALLETS)) !== 0) malformed("reserved flag bits must be 0");
  const extra = (flags & DELEGATED) !== 0 ? DELEGATION_BYTES : 0;
  if (extra > 0 && (kind === "round-record" || kind === "record-vote")) {
    malformed(`a ${kind} cannot be delegated`);
  }
  const withWallets = (flags & WALLETS) !== 0;
  if (withWallets && kind !== "round-record") malformed("only a round record carries wallets");
  if (bytes.length > MAX_MESSAGE_BYTES_BY_KIND[kind] + extra) {
    throw new Reject(
      "oversized",
      `${bytes.length} bytes, ${kind} messages are at most ${
        MAX_MESSAGE_BYTES_BY_KIND[kind] + extra
      }`,
    );
  }
  if (bytes.length < MESSAGE_HEADER_BYTES + SIG + extra) {
    malformed(`${bytes.length} bytes is too short for a delegated message`);
  }
  const runId = r.take(RUN_ID_BYTES, "run id");
  const senderKey = r.take(KEY, "sender");
  const lo = r.u32("timestamp");
  const hi = r.u32("timestamp");
  if (hi >= 2 ** 21) malformed("timestamp beyond 2^53");
  const timestamp = hi * 2 ** 32 + lo;
  const bodyEnd = bytes.length - SIG - extra;
  const body = new Reader(bytes.subarray(0, bodyEnd));
  body.off = r.off;
  let decoded: DecodedBody;
  if (kind === "peer-announce") {
    const peerKey = body.take(KEY, "peer key");
    const peerSignature = body.take(SIG, "peer signature");
    const caps = body.u16("capabilities");
    if (caps >> CAPABILITIES.length !== 0) {
      malformed(`unknown capability bits 0x${caps.toString(16)}`);
    }
    const capabilities = CAPABILITIES.filter((_, i) => (caps & (1 << i)) !== 0);
    const count = body.u8("address count");
    if (count > MAX_ADDRESSES) malformed(`${count} addresses, at most ${MAX_ADDRESSES}`);
    const addresses: string[] = [];
    for (let i = 0; i < count; i++) {
      const n = body.u8(`address ${i} length`);
      const a = String.fromCharCode(...body.take(n, `address ${i}`));
      if (!isMultiaddrText(a)) malformed(`address ${i} is not a multiaddr`);
      if (addresses.includes(a)) malformed(`address ${i} repeats`);
      addresses.push(a);
    }
    decoded = {
      kind,
      peerKey,
      peerSignature,
      addresses,
      capabilities,
      peerId: base58Encode(concat(PEER_ID_PREFIX, peerKey)),
    };
  } else if (kind === "update-announce") {
    const window = body.u32("window");
    const modelHash = body.take(HASH, "model hash");
    const payloadHash = body.take(HASH, "payload hash");
    const size = body.u32("size");
    if (size < UPDATE_HEADER_BYTES) {
      malformed(`payload size ${size} is below an update header (${UPDATE_HEADER_BYTES})`);
    }
    decoded = { kind, window, modelHash, payloadHash, size };
  } else if (kind === "record-vote") {
    const window = body.u32("window");
    decoded = { kind, window, recordHash: body.take(HASH, "record hash") };
  } else {
    const window = body.u32("window");
    const modelHash = body.take(HASH, "model hash");
    const nextModelHash = body.take(HASH, "next model hash");
    const count = body.u8("contributor count");
    if (count > MAX_CONTRIBUTORS_LIMIT) {
      malformed(`${count} contributors, at most ${MAX_CONTRIBUTORS_LIMIT}`);
    }
    const contributors: Contributor[] = [];
    let prev: Uint8Array | undefined;
    for (let i = 0; i < count; i++) {
      const key = body.take(KEY, `contributor ${i}`);
      if (prev && compareBytes(prev, key) >= 0) {
        malformed(`contributor ${i} is not in ascending key order`);
      }
      prev = key;
      contributors.push({
        address: addressFromPublicKey(key),
        payloadHash: body.take(HASH, `payload hash ${i}`),
      });
    }
    const scoredCount = body.u16("scored count");
    if (scoredCount > MAX_SCORED) malformed(`${scoredCount} scored peers, at most ${MAX_SCORED}`);
    const scored: ScoredPeer[] = [];
    let prevScored: Uint8Array | undefined;
    const none = new Uint8Array(KEY);
    for (let i = 0; i < scoredCount; i++) {
      const key = body.take(KEY, `scored peer ${i}`);
      if (prevScored && compareBytes(prevScored, key) >= 0) {
        malformed(`scored peer ${i} is not in ascending key order`);
      }
      prevScored = key;
      const gradScore = body.f32(`gradient score ${i}`);
      const score = body.f32(`score ${i}`);
      const code = body.u8(`verdict ${i}`);
      if (code >= VERDICTS.length) malformed(`scored peer ${i}: unknown verdict ${code}`);
      const until = body.u32(`until ${i}`);
      const other = body.take(KEY, `other key ${i}`);
      const wallet = withWallets ? body.take(KEY, `wallet ${i}`) : none;
      const hasWallet = compareBytes(wallet, none) !== 0;
      if (hasWallet && compareBytes(wallet, key) === 0) {
        malformed(`scored peer ${i}: its wallet is itself`);
      }
      scored.push({
        address: addressFromPublicKey(key),
        gradScore,
        score,
        verdict: VERDICTS[code],
        until,
        other: compareBytes(other, none) === 0 ? null : addressFromPublicKey(other),
        ...(hasWallet ? { wallet: addressFromPublicKey(wallet) } : {}),
      });
    }
    if (withWallets && !scored.some((s) => s.wallet !== undefined)) {
      malformed("the wallets flag is set but no scored peer has a wallet");
    }
    let validLoss: number | undefined;
    if (bodyEnd - body.off === VALID_LOSS) {
      validLoss = body.f32("validation loss");
      if (!(Number.isFinite(validLoss) && validLoss >= 0)) {
        malformed(`validation loss ${validLoss} is not a finite number ≥ 0`);
      }
    }
    decoded = validLoss === undefined
      ? { kind, window, modelHash, nextModelHash, contributors, scored }
      : { kind, window, modelHash, nextModelHash, contributors, scored, validLoss };
  }
  if (body.off !== bodyEnd) malformed(`${bodyEnd - body.off} bytes after the ${kind} body`);
  return {
    runId,
    sender: addressFromPublicKey(senderKey),
    senderKey,
    timestamp,
    body: decoded,
    signature: bytes.slice(bodyEnd + extra),
    ...(extra > 0 ? { delegation: bytes.slice(bodyEnd, bodyEnd + extra) } : {}),
  };
}

function attempt(fn: () => Message): MessageResult {
  try {
    return { ok: true, message: fn() };
  } catch (e) {
    if (e instanceof Reject) return { ok: false, reason: e.reason, detail: e.detail };
    // Not reachable by design; if a check is missing, hostile bytes still only get refused.
    return { ok: false, reason: "malformed", detail: `internal: ${(e as Error)?.message ?? e}` };
  }
}

/**
 * Decodes the structure of a message without checking signatures or context. For tools and
 * tests; nodes use {@linkcode verifyMessage}. Never throws.
 */
export function decodeMessage(bytes: Uint8Array): MessageResult {
  if (!(bytes instanceof Uint8Array)) {
    return { ok: false, reason: "malformed", detail: "not bytes" };
  }
  return attempt(() => decodeOrThrow(bytes));
}

function keyOf(v: string | Uint8Array): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  try {
    return publicKeyFromAddress(v);
  } catch {
    return undefined;
  }
}

/**
 * Decodes and checks a message from the network: structure and sizes, the run, the window,
 * freshness, the round-record signer, the announced payload size, then the signature(s)
 * (costliest last, so floods of junk are cheap to refuse). Returns the message or a
 * {@linkcode Rejection}; never throws, whatever the bytes.
 */
export function verifyMessage(bytes: Uint8Array, options: VerifyOptions): MessageResult {
  if (!(bytes instanceof Uint8Array)) {
    return { ok: false, reason: "malformed", detail: "not bytes" };
  }
  return attempt(() => {
    const m = decodeOrThrow(bytes);
    const o = options;
    if (!bytesEqual(m.runId, o.runId)) {
      throw new Reject("unknown-run", "the message is for another run");
    }
    const b = m.body;
    if (b.kind !== "peer-announce" && o.expectedWindow !== undefined) {
      const ok = typeof o.expectedWindow === "number"
        ? b.window === o.expectedWindow
        : o.expectedWindow.includes(b.window);
      if (!ok) throw new Reject("wrong-window", `window ${b.window}, expected ${o.expectedWindow}`);
    }
    if (o.now !== undefined) {
      const skew = o.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
      if (!(Math.abs(m.timestamp - o.now) <= skew)) {
        throw new Reject(
          "stale",
          `timestamp ${m.timestamp} is ${m.timestamp - o.now} ms from now (limit ±${skew})`,
        );
      }
    }
    if (b.kind === "update-announce" && b.size > (o.maxPayloadBytes ?? DEFAULT_MAX_UPDATE_BYTES)) {
      throw new Reject(
        "oversized",
        `announced payload of ${b.size} bytes, limit ${
          o.maxPayloadBytes ?? DEFAULT_MAX_UPDATE_BYTES
        }`,
      );
    }
    if (b.kind === "round-record" || b.kind === "record-vote") {
      if (
        !o.validators.some((v) => {
          const k = keyOf(v);
          return k !== undefined && bytesEqual(k, m.senderKey);
        })
      ) {
        throw new Reject(
          "unauthorized",
          `${b.kind} signed by ${m.sender}, not a validator of this run`,
        );
      }
    }
    if (b.kind === "round-record") {
      const limit = o.maxContributors ?? MAX_CONTRIBUTORS_LIMIT;
      if (b.contributors.length > limit) {
        throw new Reject(
          "oversized",
          `${b.contributors.length} contributors, the run allows ${limit}`,
        );
      }
    }
    const unsigned = bytes.subarray(0, bytes.length - SIG);
    if (!verify(signedBytes(b.kind, unsigned), m.signature, m.senderKey)) {
      throw new Reject("bad-signature", `not signed by ${m.sender}`);
    }
    if (
      b.kind === "peer-announce" &&
      !verifyEd25519(peerBindingBytes(m.runId, m.senderKey), b.peerSignature, b.peerKey)
    ) {
      throw new Reject(
        "bad-signature",
        `libp2p key ${b.peerId} did not bind itself to ${m.sender}`,
      );
    }
    return m;
  });
}

function verifyEd25519(message: Uint8Array, signature: Uint8Array, key: Uint8Array): boolean {
  try {
    return ed25519Verify(message, signature, key);
  } catch {
    return false;
  }
}

/** "WLRC". */
export const CERTIFICATE_MAGIC: Uint8Array = new Uint8Array([0x57, 0x4c, 0x52, 0x43]);
/** Most votes in a certificate (one per genesis validator). */
export const MAX_CERTIFICATE_VOTES = 16;
const VOTE_BYTES = MAX_MESSAGE_BYTES_BY_KIND["record-vote"];
const CERT_HEAD = 4 + 1 + 4;
/**
 * Largest round certificate (≈ 35 KB): the largest round record (64 contributors, 256 scored
 * peers with wallets, a validation loss) and a vote of each of the most validators. The sync
 * protocol serves records up to this size.
 */
export const MAX_CERTIFICATE_BYTES: number = CERT_HEAD + MAX_MESSAGE_BYTES_BY_KIND["round-record"] +
  MAX_CERTIFICATE_VOTES * VOTE_BYTES;

/** A round record and the votes that make it count, as {@linkcode decodeCertificate} splits them. */
export interface CertificateParts {
  /** The signed round-record message. */
  record: Uint8Array;
  /** The signed record-vote messages, 180 bytes each. */
  votes: Uint8Array[];
}

/**
 * A round certificate: the signed record, then its votes (see the module doc). The votes are
 * written in the given order; {@linkcode decodeCertificate} checks sizes only, the signatures
 * and the quorum are the run's rules (src/protocol/quorum.ts).
 */
export function encodeCertificate(parts: CertificateParts): Uint8Array {
  const { record, votes } = parts;
  if (
    !(record instanceof Uint8Array) || record.length > MAX_MESSAGE_BYTES_BY_KIND["round-record"]
  ) {
    throw new MessageError("a certificate's record must be one round-record message");
  }
  if (!Array.isArray(votes) || votes.length < 1 || votes.length > MAX_CERTIFICATE_VOTES) {
    throw new MessageError(`a certificate has 1 to ${MAX_CERTIFICATE_VOTES} votes`);
  }
  for (const v of votes) checkBytes(v, VOTE_BYTES, "a certificate's vote");
  const w = new Writer(CERT_HEAD);
  w.raw(CERTIFICATE_MAGIC);
  w.u8(votes.length);
  w.u32(record.length);
  return concat(w.bytes, record, ...votes);
}

/** Whether `bytes` starts like a round certificate rather than a message. */
export function isCertificate(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytesEqual(bytes.subarray(0, 4), CERTIFICATE_MAGIC);
}

/**
 * Splits a round certificate into its record and votes; throws a one-line
 * {@linkcode MessageError} on malformed bytes (never anything else).
 */
export function decodeCertificate(bytes: Uint8Array): CertificateParts {
  if (!(bytes instanceof Uint8Array) || bytes.length < CERT_HEAD) {
    throw new MessageError("certificate: shorter than its header");
  }
  if (!isCertificate(bytes)) throw new MessageError("certificate: bad magic");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint8(4);
  const length = view.getUint32(5, true);
  if (count < 1 || count > MAX_CERTIFICATE_VOTES) {
    throw new MessageError(`certificate: ${count} votes, 1 to ${MAX_CERTIFICATE_VOTES} allowed`);
  }
  if (length > MAX_MESSAGE_BYTES_BY_KIND["round-record"]) {
    throw new MessageError(`certificate: a record of ${length} bytes is too long`);
  }
  const want = CERT_HEAD + length + count * VOTE_BYTES;
  if (bytes.length !== want) {
    throw new MessageError(`certificate: ${bytes.length} bytes, its header says ${want}`);
  }
  const record = bytes.slice(CERT_HEAD, CERT_HEAD + length);
  const votes: Uint8Array[] = [];
  for (let i = 0, off = CERT_HEAD + length; i < count; i++, off += VOTE_BYTES) {
    votes.push(bytes.slice(off, off + VOTE_BYTES));
  }
  return { record, votes };
}
