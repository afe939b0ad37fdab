/**
 * The sync protocol: a node that joined late, or missed gossip, asks any peer for the run's
 * history: the signed round records from a window on, and the newest checkpoint pointer. The
 * net layer treats records as opaque bytes; the roles verify their signatures.
 *
 * ```
 * request   version (u8 = 1) ‖ fromWindow (u32 BE)            then the client closes its side
 * response  status (u8) ‖ uvarint(length) ‖ length bytes      then the server closes its side
 *           status 0 OK: the body below; 1 UNAVAILABLE (no history served), 2 BUSY,
 *           3 BAD_REQUEST, 4 ERROR (the server failed): a UTF-8 reason of at most 256 bytes
 * body      flags (u8: bit 0 checkpoint present, bit 1 more)
 *           [checkpoint: window (u32 BE) ‖ sha256 (32 bytes) ‖ uvarint(size)]
 *           uvarint(count) ‖ count × (uvarint(length) ‖ record bytes)
 * ```
 *
 * Both sides decode strictly: unknown flags, counts or lengths over the limits, non-minimal
 * varints, an early end or trailing bytes are `protocol` errors. The client refuses a body
 * longer than the limits allow before reading it. The server answers one request per stream,
 * with a deadline for the request and one for the response, a limit of concurrent requests
 * per peer and in total, and never lets a failing source throw out of the handler.
 *
 * @module
 */

import type { Stream } from "@libp2p/interface";
import { NetError } from "./errors.ts";
import { MAX_CERTIFICATE_BYTES } from "../codec/messages.ts";
import { hashBytes } from "./payload_store.ts";
import { hex } from "../util/hex.ts";
import { HASH_BYTES, SYNC_PROTOCOL } from "./protocols.ts";
import { type Deadline, encodeUvarint, errorMessage, type StreamReader } from "./stream_io.ts";
import {
  describeProvider,
  encodeErrorResponse,
  encodeResponse,
  MAX_LENGTH_VARINT_BYTES,
  MAX_REASON_BYTES,
  printable,
  type ProtocolDialer,
  ProtocolService,
  type Provider,
  requestResponse,
  RequestServer,
  type RequestServerCounters,
  type RequestServerOptions,
  type ServiceComponents,
} from "./stream_service.ts";

/**
 * Where the newest checkpoint is: its payload (served by the payload protocol) has sha256
 * `hash`.
 */
export interface SyncCheckpoint {
  /** The window the checkpoint was taken at (u32). */
  window: number;
  /** The sha256 of the checkpoint payload, 64 lower-case hex digits. */
  hash: string;
  /** The payload's size in bytes. */
  size: number;
}

/** What a node serves. */
export interface SyncSource {
  /**
   * Signed round-record messages with window ≥ fromWindow, ascending by window, at most `max`.
   * The server asks for one more than it sends, to know whether to set `more`.
   */
  records(fromWindow: number, max: number): Uint8Array[] | Promise<Uint8Array[]>;
  /** The newest checkpoint this node serves, or null. */
  checkpoint(): SyncCheckpoint | null | Promise<SyncCheckpoint | null>;
}

/** The answer to a sync request. */
export interface SyncResponse {
  /** The server's newest checkpoint, or null. */
  checkpoint: SyncCheckpoint | null;
  /** Signed round records, as the server's source gave them (ascending by window). */
  records: Uint8Array[];
  /** the server had more than it sent: ask again from the last window + 1 */
  more: boolean;
}

/** Most records in one response (the protocol's limit; a server may send fewer). */
export const MAX_SYNC_RECORDS = 256;
/**
 * Default {@linkcode SyncLimits.maxRecordBytes}: largest record served or accepted — the
 * largest round certificate ({@linkcode MAX_CERTIFICATE_BYTES}, ≈ 35 KB), so any record of any
 * run fits (one of a single validator is smaller). A full response is then at most
 * 256 × 35 KB ≈ 9 MB.
 */
export const DEFAULT_MAX_RECORD_BYTES: number = MAX_CERTIFICATE_BYTES;

/** The request version this code speaks. */
export const SYNC_VERSION = 1;
/** Length of a request: version ‖ u32 fromWindow. */
export const SYNC_REQUEST_BYTES = 5;

/** Response status codes. */
export const SyncStatus: Readonly<{
  OK: 0;
  UNAVAILABLE: 1;
  BUSY: 2;
  BAD_REQUEST: 3;
  ERROR: 4;
}> = Object.freeze({ OK: 0, UNAVAILABLE: 1, BUSY: 2, BAD_REQUEST: 3, ERROR: 4 } as const);

/** Longest reason text in an error response (the same for every protocol). */
export const MAX_SYNC_REASON_BYTES = MAX_REASON_BYTES;

/** Default {@linkcode SyncServerOptions.maxConcurrentPerPeer}. */
export const DEFAULT_SYNC_MAX_CONCURRENT_PER_PEER = 2;
/** Default {@linkcode SyncServerOptions.maxConcurrent}. */
export const DEFAULT_SYNC_MAX_CONCURRENT = 32;
/** Default {@linkcode SyncServerOptions.requestTimeoutMs}. */
export const DEFAULT_SYNC_REQUEST_TIMEOUT_MS = 5_000;
/** Default {@linkcode SyncServerOptions.responseTimeoutMs}. */
export const DEFAULT_SYNC_RESPONSE_TIMEOUT_MS = 30_000;
/** Default {@linkcode SyncOptions.timeoutMs}. */
export const DEFAULT_SYNC_TIMEOUT_MS = 30_000;

const U32_MAX = 0xffff_ffff;
const FLAG_CHECKPOINT = 1;
const FLAG_MORE = 2;
/** Sizes below 2^49, like every other varint of the net layer. */
const MAX_SIZE_VARINT_BYTES = MAX_LENGTH_VARINT_BYTES;
const HEX64 = /^[0-9a-f]{64}$/;

const decoder = new TextDecoder("utf-8", { fatal: false });

/** Size limits of a sync response, on either side. */
export interface SyncLimits {
  /** Most records per response, 1 to {@linkcode MAX_SYNC_RECORDS} (default the latter). */
  maxRecords?: number;
  /** Largest record, in bytes (default {@linkcode DEFAULT_MAX_RECORD_BYTES}). */
  maxRecordBytes?: number;
}

interface Limits {
  maxRecords: number;
  maxRecordBytes: number;
}

function resolveLimits(limits: SyncLimits = {}): Limits {
  const maxRecords = limits.maxRecords ?? MAX_SYNC_RECORDS;
  const maxRecordBytes = limits.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (!Number.isSafeInteger(maxRecords) || maxRecords < 1 || maxRecords > MAX_SYNC_RECORDS) {
    throw new NetError("invalid_argument", `maxRecords must be 1 to ${MAX_SYNC_RECORDS}`);
  }
  if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes < 1 || maxRecordBytes > 1 << 30) {
    throw new NetError("invalid_argument", "maxRecordBytes must be 1 to 2^30");
  }
  return { maxRecords, maxRecordBytes };
}

/** The largest OK body within `limits`: what a client may have to buffer. */
export function maxSyncBodyBytes(limits: SyncLimits = {}): number {
  const { maxRecords, maxRecordBytes } = resolveLimits(limits);
  return 1 + 4 + HASH_BYTES + MAX_SIZE_VARINT_BYTES + encodeUvarint(maxRecords).length +
    maxRecords * (encodeUvarint(maxRecordBytes).length + maxRecordBytes);
}

function isU32(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= U32_MAX;
}

/** The request bytes: version ‖ u32 BE `fromWindow`. Throws `invalid_argument`. */
export function encodeSyncRequest(fromWindow: number): Uint8Array {
  if (!isU32(fromWindow)) {
    throw new NetError("invalid_argument", `fromWindow must be a u32, got ${String(fromWindow)}`);
  }
  const out = new Uint8Array(SYNC_REQUEST_BYTES);
  out[0] = SYNC_VERSION;
  new DataView(out.buffer).setUint32(1, fromWindow);
  return out;
}

/** The `fromWindow` of a request; throws a `protocol` NetError unless exactly one request. */
export function decodeSyncRequest(bytes: Uint8Array): number {
  if (bytes.length !== SYNC_REQUEST_BYTES) {
    throw new NetError("protocol", `request of ${bytes.length} bytes, not ${SYNC_REQUEST_BYTES}`);
  }
  if (bytes[0] !== SYNC_VERSION) {
    throw new NetError("protocol", `unsupported sync version ${bytes[0]}`);
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
}

/** Throws `invalid_argument` unless `cp` is a well-formed checkpoint pointer. */
function checkCheckpoint(cp: SyncCheckpoint): void {
  if (typeof cp !== "object" || cp === null) {
    throw new NetError("invalid_argument", "checkpoint must be an object or null");
  }
  if (!isU32(cp.window)) {
    throw new NetError("invalid_argument", `checkpoint window ${String(cp.window)} is not a u32`);
  }
  if (typeof cp.hash !== "string" || !HEX64.test(cp.hash)) {
    throw new NetError("invalid_argument", "checkpoint hash must be 64 lower-case hex digits");
  }
  if (!Number.isSafeInteger(cp.size) || cp.size < 0 || cp.size >= 2 ** 49) {
    throw new NetError("invalid_argument", `checkpoint size ${String(cp.size)} out of range`);
  }
}

/**
 * The OK response bytes (status, length, body). Throws `invalid_argument` for a malformed
 * checkpoint or records, `too_large` for more records, or longer ones, than `limits` allow.
 */
export function encodeSyncResponse(response: SyncResponse, limits?: SyncLimits): Uint8Array {
  const { maxRecords, maxRecordBytes } = resolveLimits(limits);
  const { checkpoint, records } = response;
  if (!Array.isArray(records)) throw new NetError("invalid_argument", "records must be an array");
  if (records.length > maxRecords) {
    throw new NetError(
      "too_large",
      `${records.length} records, at most ${maxRecords} per response`,
    );
  }
  const parts: Uint8Array[] = [];
  parts.push(
    Uint8Array.of((checkpoint !== null ? FLAG_CHECKPOINT : 0) | (response.more ? FLAG_MORE : 0)),
  );
  if (checkpoint !== null) {
    checkCheckpoint(checkpoint);
    const head = new Uint8Array(4 + HASH_BYTES);
    new DataView(head.buffer).setUint32(0, checkpoint.window);
    head.set(hashBytes(checkpoint.hash), 4);
    parts.push(head, encodeUvarint(checkpoint.size));
  }
  parts.push(encodeUvarint(records.length));
  records.forEach((r, i) => {
    if (!(r instanceof Uint8Array)) {
      throw new NetError("invalid_argument", `record ${i} is not bytes`);
    }
    // A signed message is never empty; an empty record is a bug of the source.
    if (r.length === 0) throw new NetError("invalid_argument", `record ${i} is empty`);
    if (r.length > maxRecordBytes) {
      throw new NetError(
        "too_large",
        `record ${i} of ${r.length} bytes exceeds the limit of ${maxRecordBytes}`,
      );
    }
    parts.push(encodeUvarint(r.length), r);
  });
  const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    body.set(p, off);
    off += p.length;
  }
  return encodeResponse(SyncStatus.OK, body);
}

/** An error response: `status` (not OK) and a reason, cut to 256 bytes. */
export function encodeSyncError(status: number, reason: string): Uint8Array {
  if (!Number.isInteger(status) || status <= SyncStatus.OK || status > 255) {
    throw new NetError("invalid_argument", `bad error status ${status}`);
  }
  return encodeErrorResponse(status, reason);
}

/** A cursor over a complete buffer; every overrun is a `protocol` error. */
class Cursor {
  off = 0;
  constructor(readonly bytes: Uint8Array) {}

  take(n: number, what: string): Uint8Array {
    if (this.off + n > this.bytes.length) {
      throw new NetError(
        "protocol",
        `truncated ${what}: needs ${n} bytes, ${this.bytes.length - this.off} left`,
      );
    }
    const out = this.bytes.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }

  u8(what: string): number {
    return this.take(1, what)[0];
  }

  uvarint(maxBytes: number, what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < maxBytes; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw new NetError("protocol", `non-minimal varint in ${what}`);
        return value;
      }
      scale *= 0x80;
    }
    throw new NetError("protocol", `${what} varint longer than ${maxBytes} bytes`);
  }
}

function varintBytes(max: number): number {
  return encodeUvarint(max).length;
}

/**
 * Decodes an OK body strictly; throws a `protocol` NetError (bad flags, truncation, trailing
 * bytes, a count over {@linkcode MAX_SYNC_RECORDS}) or `too_large` (a record over the limit).
 */
function decodeBody(body: Uint8Array, maxRecordBytes: number): SyncResponse {
  const c = new Cursor(body);
  const flags = c.u8("flags");
  if ((flags & ~(FLAG_CHECKPOINT | FLAG_MORE)) !== 0) {
    throw new NetError("protocol", `unknown sync flags 0x${flags.toString(16)}`);
  }
  let checkpoint: SyncCheckpoint | null = null;
  if (flags & FLAG_CHECKPOINT) {
    const head = c.take(4 + HASH_BYTES, "checkpoint");
    const window = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
    const hash = hex(head.subarray(4));
    const size = c.uvarint(MAX_SIZE_VARINT_BYTES, "checkpoint size");
    checkpoint = { window, hash, size };
  }
  // A server may use a lower count than MAX_SYNC_RECORDS, never a higher one.
  const count = c.uvarint(varintBytes(MAX_SYNC_RECORDS), "record count");
  if (count > MAX_SYNC_RECORDS) {
    throw new NetError("protocol", `${count} records, at most ${MAX_SYNC_RECORDS} per response`);
  }
  const records: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const len = c.uvarint(MAX_SIZE_VARINT_BYTES, `record ${i} length`);
    if (len === 0) throw new NetError("protocol", `record ${i} is empty`);
    if (len > maxRecordBytes) {
      throw new NetError(
        "too_large",
        `record ${i} of ${len} bytes, at most ${maxRecordBytes} accepted`,
      );
    }
    // A copy: the caller keeps records, not views on the whole response.
    records.push(c.take(len, `record ${i}`).slice());
  }
  if (c.off !== body.length) {
    throw new NetError("protocol", `${body.length - c.off} trailing bytes after the records`);
  }
  return { checkpoint, records, more: (flags & FLAG_MORE) !== 0 };
}

/** The error of a non-OK status, with the server's reason (printable ASCII only). */
function statusError(status: number, reason: string): NetError {
  const text = printable(reason);
  switch (status) {
    case SyncStatus.UNAVAILABLE:
      return new NetError("unavailable", `peer serves no history: ${text}`);
    case SyncStatus.BUSY:
      return new NetError("busy", `peer is busy: ${text}`);
    case SyncStatus.BAD_REQUEST:
      return new NetError("bad_request", `peer refused the request: ${text}`);
    case SyncStatus.ERROR:
      return new NetError("remote_error", `peer failed: ${text}`);
    default:
      return new NetError("protocol", `unknown sync status ${status}: ${text}`);
  }
}

/**
 * Decodes a whole response (status, length, body) strictly. An OK response gives the
 * {@linkcode SyncResponse}; an error status throws its NetError (`unavailable`, `busy`,
 * `bad_request`, `remote_error`); malformed bytes throw `protocol`, a record over
 * `limits.maxRecordBytes` throws `too_large`. Any count up to {@linkcode MAX_SYNC_RECORDS}
 * is accepted: a server may send fewer per response, never more.
 */
export function decodeSyncResponse(
  bytes: Uint8Array,
  limits?: Pick<SyncLimits, "maxRecordBytes">,
): SyncResponse {
  const { maxRecordBytes } = resolveLimits({ maxRecordBytes: limits?.maxRecordBytes });
  const c = new Cursor(bytes);
  const status = c.u8("status");
  const length = c.uvarint(MAX_SIZE_VARINT_BYTES, "response length");
  if (status !== SyncStatus.OK) {
    if (length > MAX_SYNC_REASON_BYTES) {
      throw new NetError("protocol", `reason of ${length} bytes`);
    }
  } else if (length > maxSyncBodyBytes({ maxRecordBytes })) {
    throw new NetError("too_large", `response of ${length} bytes exceeds the limits`);
  }
  const body = c.take(length, "response");
  if (c.off !== bytes.length) {
    throw new NetError("protocol", `${bytes.length - c.off} trailing bytes after the response`);
  }
  if (status !== SyncStatus.OK) throw statusError(status, decoder.decode(body));
  return decodeBody(body, maxRecordBytes);
}

/**
 * Limits and timeouts of a {@linkcode SyncServer}. Defaults: 2 requests at once per peer, 32
 * in all, 5 s for the request to arrive, 30 s to ask the source and send the whole response.
 */
export interface SyncServerOptions extends SyncLimits, RequestServerOptions {}

/**
 * Counters of a {@linkcode SyncServer}; its `errors` also count ERROR answers (the source
 * failed).
 */
export interface SyncServerStats extends RequestServerCounters {
  /** OK answers sent in full. */
  served: number;
  /** UNAVAILABLE answers (no source set). */
  unavailable: number;
}

/** Awaits `value`, or throws the abort reason of `signal` first (a source may hang). */
function raceSignal<T>(value: T | Promise<T>, signal: AbortSignal): Promise<T> {
  if (!(value instanceof Promise)) return Promise.resolve(value);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    value.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Answers sync requests from a {@linkcode SyncSource} (set later; none: UNAVAILABLE).
 * `handle` is the stream handler; it never throws.
 */
export class SyncServer extends RequestServer<number, SyncServerStats> {
  #source: SyncSource | null = null;
  readonly #limits: Limits;

  /** A server within the limits of `options`; throws `invalid_argument` for bad limits. */
  constructor(options: SyncServerOptions = {}) {
    super({ served: 0, unavailable: 0, busy: 0, rejected: 0, errors: 0 }, options, {
      name: "sync",
      maxConcurrentPerPeer: DEFAULT_SYNC_MAX_CONCURRENT_PER_PEER,
      maxConcurrent: DEFAULT_SYNC_MAX_CONCURRENT,
      requestTimeoutMs: DEFAULT_SYNC_REQUEST_TIMEOUT_MS,
      responseTimeoutMs: DEFAULT_SYNC_RESPONSE_TIMEOUT_MS,
      busy: { status: SyncStatus.BUSY, reason: "busy, try another peer" },
      badRequestStatus: SyncStatus.BAD_REQUEST,
    });
    this.#limits = resolveLimits(options);
  }

  /** What is served; `null` answers UNAVAILABLE. Requests in flight keep the old source. */
  setSource(source: SyncSource | null): void {
    this.#source = source;
  }

  /** The request's `fromWindow`; exactly one request, nothing after it. */
  protected override async readRequest(reader: StreamReader, signal: AbortSignal): Promise<number> {
    const request = await reader.readExactly(SYNC_REQUEST_BYTES, signal);
    // Anything after the request is malformed too (already here: no wait for more).
    if (reader.buffered > 0) {
      throw new NetError("protocol", `${reader.buffered} bytes after the request`);
    }
    return decodeSyncRequest(request);
  }

  /** The records and checkpoint, UNAVAILABLE without a source, ERROR if the source fails. */
  protected override async respond(
    stream: Stream,
    fromWindow: number,
    signal: AbortSignal,
    peer: string,
  ): Promise<void> {
    const source = this.#source;
    if (source === null) {
      this.stats.unavailable++;
      await this.send(stream, encodeSyncError(SyncStatus.UNAVAILABLE, "no history served"), signal);
      return;
    }
    let response: Uint8Array;
    let failed = false;
    let late: Deadline | undefined;
    try {
      response = await this.#answer(source, fromWindow, signal);
    } catch (err) {
      // The source's fault, not the peer's: answer ERROR and keep serving.
      failed = true;
      this.report(err, peer);
      response = encodeSyncError(SyncStatus.ERROR, `history source failed: ${errorMessage(err)}`);
      // The source used up the response deadline: a short one to say so.
      if (signal.aborted) late = this.shortDeadline("sync error answer");
    }
    try {
      await this.send(stream, response, late?.signal ?? signal);
    } finally {
      late?.clear();
    }
    if (failed) this.stats.errors++;
    else this.stats.served++;
  }

  /** The encoded OK response; throws if the source fails or breaks the limits. */
  async #answer(source: SyncSource, fromWindow: number, signal: AbortSignal): Promise<Uint8Array> {
    const max = this.#limits.maxRecords;
    // One more than we send tells whether there is more.
    const [got, checkpoint] = await Promise.all([
      raceSignal(Promise.resolve().then(() => source.records(fromWindow, max + 1)), signal),
      raceSignal(Promise.resolve().then(() => source.checkpoint()), signal),
    ]);
    if (!Array.isArray(got)) throw new TypeError("records() did not return an array");
    return encodeSyncResponse(
      {
        checkpoint: checkpoint ?? null,
        records: got.slice(0, max),
        more: got.length > max,
      },
      this.#limits,
    );
  }
}

/** What the client needs of a node: libp2p's `dialProtocol`. */
export type SyncDialer = ProtocolDialer;

/** Options of one sync request. */
export interface SyncOptions {
  /** Deadline of the whole request, dial included (default 30 s). */
  timeoutMs?: number;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/**
 * Asks one peer for its history from `fromWindow` on. Accepts up to
 * {@linkcode MAX_SYNC_RECORDS} records of at most `limits.maxRecordBytes` each. Throws a
 * {@linkcode NetError}: `unavailable` (no history served), `busy`, `bad_request`,
 * `remote_error`, `too_large`, `protocol`, `timeout`, `aborted`, `dial`, `invalid_argument`.
 */
export async function syncFrom(
  node: SyncDialer,
  provider: Provider,
  fromWindow: number,
  options: SyncOptions & { limits?: Pick<SyncLimits, "maxRecordBytes"> } = {},
): Promise<SyncResponse> {
  const request = encodeSyncRequest(fromWindow);
  const limits = resolveLimits({ maxRecordBytes: options.limits?.maxRecordBytes });
  const maxBody = maxSyncBodyBytes(limits);
  return await requestResponse(node, provider, {
    protocol: SYNC_PROTOCOL,
    request,
    what: `sync from window ${fromWindow} with ${describeProvider(provider)}`,
    timeoutMs: options.timeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS,
    signal: options.signal,
    maxBody,
    maxBuffered: maxBody + 16,
    bodyName: "response",
    // One response per stream: a peer that floods past its length is broken.
    rejectTrailing: true,
    statusError,
    decode: (body) => decodeBody(body, limits.maxRecordBytes),
  });
}

/** The components a {@linkcode SyncService} uses (a subset of libp2p's). */
export type SyncServiceComponents = ServiceComponents;

/**
 * Options of {@linkcode syncService}: the server's limits; `maxRecordBytes` is also the
 * largest record the client accepts.
 */
export type SyncServiceInit = SyncServerOptions;

/**
 * The sync protocol as a libp2p service: mounts a {@linkcode SyncServer} on start, unmounts it
 * (resetting requests in flight) on stop, and asks peers for their history.
 */
export class SyncService extends ProtocolService<SyncServer> {
  readonly #maxRecordBytes: number;

  /** A service over libp2p `components` (use {@linkcode syncService} in a libp2p config). */
  constructor(components: SyncServiceComponents, init: SyncServiceInit = {}) {
    super(components, SYNC_PROTOCOL, new SyncServer(init), 16);
    this.#maxRecordBytes = init.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  }

  /** What this node serves; `null` answers UNAVAILABLE. */
  setSource(source: SyncSource | null): void {
    this.server.setSource(source);
  }

  /** Asks `provider` for its history from `fromWindow` on (see {@linkcode syncFrom}). */
  sync(provider: Provider, fromWindow: number, options: SyncOptions = {}): Promise<SyncResponse> {
    return syncFrom(this.dialer, provider, fromWindow, {
      ...options,
      limits: { maxRecordBytes: this.#maxRecordBytes },
    });
  }
}

/** A libp2p service factory for {@linkcode SyncService} (`services: { sync: … }`). */
export function syncService(
  init: SyncServiceInit = {},
): (components: SyncServiceComponents) => SyncService {
  return (components) => new SyncService(components, init);
}
