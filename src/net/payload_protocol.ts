/**
 * The payload protocol: fetch bytes by sha256 from any peer that holds them.
 *
 * ```
 * request   uvarint(32) ‖ hash (32 bytes)                 then the client closes its side
 * response  status (u8) ‖ uvarint(length) ‖ length bytes   then the server closes its side
 *           status 0 OK: the payload; 1 NOT_FOUND, 2 TOO_LARGE, 3 BUSY, 4 BAD_REQUEST:
 *           a UTF-8 reason of at most 256 bytes
 * ```
 *
 * The client reads the status and length first and refuses a payload longer than it accepts
 * before reading any of it, then checks the sha256 of what it got. The server answers one
 * request per stream, with a deadline for the request and one for the response, a limit of
 * concurrent requests per peer and in total, and a cap on what it buffers; malformed requests
 * get BAD_REQUEST (or a reset) and never an exception out of the handler.
 *
 * @module
 */

import type { AbortOptions, Connection, PeerId, Stream, StreamHandler } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { isNetError, NetError } from "./errors.ts";
import {
  hashBytes,
  hashHex,
  type PayloadHash,
  type PayloadSource,
  PayloadStore,
  sha256,
  toHex,
} from "./payload_store.ts";
import { DEFAULT_MAX_PAYLOAD_BYTES, HASH_BYTES, PAYLOAD_PROTOCOL } from "./protocols.ts";
import { deadline, encodeUvarint, StreamReader, writeAll } from "./stream_io.ts";

/** Response status codes. */
export const PayloadStatus: Readonly<{
  OK: 0;
  NOT_FOUND: 1;
  TOO_LARGE: 2;
  BUSY: 3;
  BAD_REQUEST: 4;
}> = Object.freeze({ OK: 0, NOT_FOUND: 1, TOO_LARGE: 2, BUSY: 3, BAD_REQUEST: 4 } as const);

/** Longest reason text in an error response. */
export const MAX_REASON_BYTES = 256;

/** Most bytes of a response's length varint (lengths below 2^49). */
const MAX_LENGTH_VARINT_BYTES = 7;

/** Default {@linkcode PayloadServerOptions.maxConcurrentPerPeer}. */
export const DEFAULT_MAX_CONCURRENT_PER_PEER = 4;
/** Default {@linkcode PayloadServerOptions.maxConcurrent}. */
export const DEFAULT_MAX_CONCURRENT = 64;
/** Default {@linkcode PayloadServerOptions.requestTimeoutMs}. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Default {@linkcode PayloadServerOptions.responseTimeoutMs}. */
export const DEFAULT_RESPONSE_TIMEOUT_MS = 120_000;
/** Default {@linkcode FetchOptions.timeoutMs}. */
export const DEFAULT_FETCH_TIMEOUT_MS = 120_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** The request bytes for `hash`: uvarint(32) ‖ hash. */
export function encodeRequest(hash: PayloadHash): Uint8Array {
  const out = new Uint8Array(1 + HASH_BYTES);
  out[0] = HASH_BYTES;
  out.set(hashBytes(hash), 1);
  return out;
}

/** A response header: status ‖ uvarint(length). */
export function encodeResponseHeader(status: number, length: number): Uint8Array {
  const len = encodeUvarint(length);
  const out = new Uint8Array(1 + len.length);
  out[0] = status;
  out.set(len, 1);
  return out;
}

/** Limits of a {@linkcode PayloadServer}. */
export interface PayloadServerOptions {
  /** Largest payload served; larger ones are answered TOO_LARGE (default 256 MiB). */
  maxPayloadBytes?: number;
  /** Requests served at once to one peer; more are answered BUSY (default 4). */
  maxConcurrentPerPeer?: number;
  /** Requests served at once in total; more are answered BUSY (default 64). */
  maxConcurrent?: number;
  /** Time for the request to arrive once the stream is open (default 10 s). */
  requestTimeoutMs?: number;
  /** Time to send the whole response (default 120 s). */
  responseTimeoutMs?: number;
  /** Called with each failed request (a reset, a timeout, a malformed request); for logs. */
  onError?: (err: unknown, peer: string) => void;
}

/** Counters of a {@linkcode PayloadServer}. */
export interface PayloadServerStats {
  /** Payloads sent in full. */
  served: number;
  /** NOT_FOUND answers. */
  notFound: number;
  /** BUSY answers. */
  busy: number;
  /** BAD_REQUEST answers and requests dropped as malformed or late. */
  rejected: number;
  /** Requests that ended in an error while answering (resets, timeouts). */
  errors: number;
}

/**
 * Answers payload requests from a {@linkcode PayloadSource}. `handle` is the stream handler;
 * it never throws.
 */
export class PayloadServer {
  readonly #source: PayloadSource;
  readonly #maxPayloadBytes: number;
  readonly #maxPerPeer: number;
  readonly #maxTotal: number;
  readonly #requestTimeoutMs: number;
  readonly #responseTimeoutMs: number;
  readonly #onError?: (err: unknown, peer: string) => void;
  readonly #perPeer = new Map<string, number>();
  readonly #streams = new Set<Stream>();
  #closed = false;
  /** Counters since construction. */
  readonly stats: PayloadServerStats = { served: 0, notFound: 0, busy: 0, rejected: 0, errors: 0 };

  /** A server answering from `source` within the limits of `options`. */
  constructor(source: PayloadSource, options: PayloadServerOptions = {}) {
    this.#source = source;
    this.#maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.#maxPerPeer = options.maxConcurrentPerPeer ?? DEFAULT_MAX_CONCURRENT_PER_PEER;
    this.#maxTotal = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#responseTimeoutMs = options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
    this.#onError = options.onError;
  }

  /** Requests being answered now. */
  get active(): number {
    return this.#streams.size;
  }

  /** Requests being answered now for one peer. */
  activeFor(peer: string): number {
    return this.#perPeer.get(peer) ?? 0;
  }

  /** The libp2p stream handler of this server. */
  readonly handler: StreamHandler = (stream: Stream, connection: Connection) =>
    this.handle(stream, connection.remotePeer.toString());

  /** Refuses new requests and resets the ones in flight. */
  close(): void {
    this.#closed = true;
    for (const s of this.#streams) s.abort(new NetError("aborted", "payload server stopped"));
    this.#streams.clear();
  }

  /** Answers one request on `stream` from `peer`. Never throws. */
  async handle(stream: Stream, peer: string): Promise<void> {
    try {
      // Whatever the client sends beyond the request is at most this much, then a reset.
      stream.maxReadBufferLength = 4096;
    } catch { /* not settable on every stream kind */ }
    if (this.#closed) {
      stream.abort(new NetError("aborted", "payload server stopped"));
      return;
    }
    const mine = this.#perPeer.get(peer) ?? 0;
    if (mine >= this.#maxPerPeer || this.#streams.size >= this.#maxTotal) {
      this.stats.busy++;
      await this.#refuse(stream, PayloadStatus.BUSY, "busy, try another provider", peer);
      return;
    }
    this.#perPeer.set(peer, mine + 1);
    this.#streams.add(stream);
    const reader = new StreamReader(stream, { maxBuffered: 1024 });
    let phase: "request" | "response" = "request";
    let dl = deadline(this.#requestTimeoutMs, "payload request");
    try {
      const len = await reader.readUvarint(2, dl.signal);
      if (len !== HASH_BYTES) {
        throw new NetError("protocol", `request of ${len} bytes, not one 32-byte sha256`);
      }
      const hash = await reader.readExactly(HASH_BYTES, dl.signal);
      dl.clear();
      phase = "response";
      dl = deadline(this.#responseTimeoutMs, "payload response");
      const bytes = this.#source.get(hash);
      if (bytes === undefined) {
        this.stats.notFound++;
        await this.#respondError(stream, PayloadStatus.NOT_FOUND, "not found", dl.signal);
      } else if (bytes.length > this.#maxPayloadBytes) {
        this.stats.rejected++;
        await this.#respondError(
          stream,
          PayloadStatus.TOO_LARGE,
          `payload of ${bytes.length} bytes exceeds this server's limit of ${this.#maxPayloadBytes}`,
          dl.signal,
        );
      } else {
        await writeAll(stream, encodeResponseHeader(PayloadStatus.OK, bytes.length), dl.signal);
        await writeAll(stream, bytes, dl.signal);
        await stream.close({ signal: dl.signal });
        this.stats.served++;
      }
    } catch (err) {
      if (phase === "request" && isNetError(err, "protocol")) {
        // Malformed or cut short: worth an answer. Timeouts and overflows get a reset.
        this.stats.rejected++;
        await this.#refuse(
          stream,
          PayloadStatus.BAD_REQUEST,
          `malformed request: ${err.message}`,
          peer,
        );
      } else {
        if (phase === "request") this.stats.rejected++;
        else this.stats.errors++;
        stream.abort(err instanceof Error ? err : new NetError("protocol", String(err)));
      }
      this.#report(err, peer);
    } finally {
      dl.clear();
      reader.dispose();
      this.#streams.delete(stream);
      const n = (this.#perPeer.get(peer) ?? 1) - 1;
      if (n <= 0) this.#perPeer.delete(peer);
      else this.#perPeer.set(peer, n);
    }
  }

  async #respondError(
    stream: Stream,
    status: number,
    reason: string,
    signal: AbortSignal,
  ): Promise<void> {
    const text = encoder.encode(reason).subarray(0, MAX_REASON_BYTES);
    await writeAll(stream, encodeResponseHeader(status, text.length), signal);
    await writeAll(stream, text, signal);
    await stream.close({ signal });
  }

  /** Best-effort error answer with its own short deadline; resets on failure. */
  async #refuse(stream: Stream, status: number, reason: string, peer: string): Promise<void> {
    const dl = deadline(Math.min(this.#requestTimeoutMs, 5_000), "payload refusal");
    try {
      await this.#respondError(stream, status, reason, dl.signal);
    } catch (err) {
      stream.abort(err instanceof Error ? err : new NetError("protocol", String(err)));
      this.#report(err, peer);
    } finally {
      dl.clear();
    }
  }

  #report(err: unknown, peer: string): void {
    try {
      this.#onError?.(err, peer);
    } catch { /* a logger must not break the server */ }
  }
}

/** Where to fetch from: a peer id (known addresses), a multiaddr, or either as text. */
export type Provider = PeerId | Multiaddr | string;

/** What the client needs of a node: libp2p's `dialProtocol`. */
export interface PayloadDialer {
  /** Opens a stream for `protocols` to `peer`, dialing if needed. */
  dialProtocol(
    peer: PeerId | Multiaddr | Multiaddr[],
    protocols: string | string[],
    options?: AbortOptions,
  ): Promise<Stream>;
}

/** Options of {@linkcode fetchPayload}. */
export interface FetchOptions {
  /** Largest payload accepted; a longer answer is refused unread (default 256 MiB). */
  maxBytes?: number;
  /** Deadline of the whole fetch, dial included (default 120 s). */
  timeoutMs?: number;
  /** Aborts the fetch. */
  signal?: AbortSignal;
}

/** Turns a provider into something libp2p can dial; throws `invalid_argument`. */
export function toDialTarget(provider: Provider): PeerId | Multiaddr {
  if (typeof provider !== "string") return provider;
  try {
    return provider.startsWith("/") ? multiaddr(provider) : peerIdFromString(provider);
  } catch (err) {
    throw new NetError("invalid_argument", `not a peer id or multiaddr: ${provider.slice(0, 80)}`, {
      cause: err,
    });
  }
}

function describe(provider: Provider): string {
  return String(provider).slice(0, 200);
}

/**
 * Fetches the payload with sha256 `hash` from one provider and returns its bytes, verified.
 * Throws a {@linkcode NetError}: `not_found`, `too_large` (refused before reading), `busy`,
 * `hash_mismatch`, `timeout`, `aborted`, `dial`, `protocol`, `bad_request`.
 */
export async function fetchPayload(
  node: PayloadDialer,
  provider: Provider,
  hash: PayloadHash,
  options: FetchOptions = {},
): Promise<Uint8Array> {
  const wantHex = hashHex(hash);
  const target = toDialTarget(provider);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const what = `fetch of ${wantHex.slice(0, 16)}… from ${describe(provider)}`;
  const dl = deadline(options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS, what, options.signal);
  let stream: Stream | undefined;
  let reader: StreamReader | undefined;
  try {
    try {
      stream = await node.dialProtocol(target, PAYLOAD_PROTOCOL, { signal: dl.signal });
    } catch (err) {
      if (dl.signal.aborted) throw dl.signal.reason;
      throw new NetError("dial", `${what}: cannot open a stream: ${message(err)}`, { cause: err });
    }
    // Bytes may arrive before the header is parsed: buffer at most what we would accept.
    reader = new StreamReader(stream, { maxBuffered: maxBytes + 64 * 1024 });
    await writeAll(stream, encodeRequest(wantHex), dl.signal);
    await stream.close({ signal: dl.signal });
    const status = await reader.readByteOrEnd(dl.signal);
    if (status === null) throw new NetError("protocol", `${what}: stream ended without an answer`);
    const length = await reader.readUvarint(MAX_LENGTH_VARINT_BYTES, dl.signal);
    if (status !== PayloadStatus.OK) {
      if (length > MAX_REASON_BYTES) {
        throw new NetError("protocol", `${what}: reason of ${length} bytes`);
      }
      const reason = decoder.decode(await reader.readExactly(length, dl.signal));
      throw statusError(status, `${what}: ${reason.replace(/[^\x20-\x7e]/g, "?")}`);
    }
    if (length > maxBytes) {
      throw new NetError(
        "too_large",
        `${what}: payload of ${length} bytes, at most ${maxBytes} accepted`,
      );
    }
    const bytes = await reader.readExactly(length, dl.signal);
    const got = toHex(await sha256(bytes));
    if (got !== wantHex) {
      throw new NetError("hash_mismatch", `${what}: bytes hash to ${got}`);
    }
    reader.dispose();
    closeSoon(stream);
    return bytes;
  } catch (err) {
    const e = dl.signal.aborted && !isNetError(err) ? dl.signal.reason : err;
    const out = e instanceof NetError
      ? e
      : new NetError("protocol", `${what}: ${message(e)}`, { cause: e });
    stream?.abort(out);
    throw out;
  } finally {
    reader?.dispose();
    dl.clear();
  }
}

/** Options of {@linkcode fetchFromAny}. */
export interface FetchFromAnyOptions extends FetchOptions {
  /** Called after each failed provider (e.g. to lower its reputation on `hash_mismatch`). */
  onProviderError?: (provider: Provider, err: NetError) => void;
}

/** The result of {@linkcode fetchFromAny}. */
export interface FetchedPayload {
  /** The verified bytes. */
  bytes: Uint8Array;
  /** Which provider delivered. */
  provider: Provider;
}

/**
 * Tries providers in order until one delivers the payload (`timeoutMs` applies to each
 * attempt, `signal` to all). Throws `unavailable` (the per-provider errors in `cause`, an
 * AggregateError), `aborted` if the signal fires, or `invalid_argument`.
 */
export async function fetchFromAny(
  node: PayloadDialer,
  providers: readonly Provider[],
  hash: PayloadHash,
  options: FetchFromAnyOptions = {},
): Promise<FetchedPayload> {
  const wantHex = hashHex(hash);
  const errors: NetError[] = [];
  for (const provider of providers) {
    if (options.signal?.aborted) {
      throw new NetError("aborted", `fetch of ${wantHex.slice(0, 16)}… aborted`);
    }
    try {
      return { bytes: await fetchPayload(node, provider, wantHex, options), provider };
    } catch (err) {
      const e = err instanceof NetError
        ? err
        : new NetError("protocol", message(err), { cause: err });
      if (e.code === "aborted" || options.signal?.aborted) throw e;
      errors.push(e);
      try {
        options.onProviderError?.(provider, e);
      } catch { /* a callback must not stop the search */ }
    }
  }
  throw new NetError(
    "unavailable",
    `payload ${wantHex.slice(0, 16)}… unavailable from ${providers.length} provider(s)` +
      (errors.length > 0 ? `: ${errors.map((e) => e.code).join(", ")}` : ""),
    { cause: new AggregateError(errors, "provider errors") },
  );
}

function statusError(status: number, text: string): NetError {
  switch (status) {
    case PayloadStatus.NOT_FOUND:
      return new NetError("not_found", text);
    case PayloadStatus.TOO_LARGE:
      return new NetError("too_large", text);
    case PayloadStatus.BUSY:
      return new NetError("busy", text);
    case PayloadStatus.BAD_REQUEST:
      return new NetError("bad_request", text);
    default:
      return new NetError("protocol", `unknown status ${status}: ${text}`);
  }
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message;
  // libp2p sometimes rejects with the stream's close Event; its error says more.
  const inner = (err as { error?: unknown } | null)?.error;
  if (inner instanceof Error) return inner.message;
  return err instanceof Event ? `stream ${err.type}` : String(err);
}

/** Lets a finished stream close by itself; resets it if the remote holds it open. */
function closeSoon(stream: Stream, graceMs = 2_000): void {
  if (stream.status !== "open") return;
  const timer = setTimeout(() => {
    if (stream.status === "open") {
      stream.abort(new NetError("timeout", "remote kept the stream open"));
    }
  }, graceMs);
  stream.addEventListener("close", () => clearTimeout(timer), { once: true });
}

/** The components a {@linkcode PayloadService} uses (a subset of libp2p's). */
export interface PayloadServiceComponents {
  /** Protocol handler registry. */
  registrar: {
    handle(
      protocol: string,
      handler: StreamHandler,
      options?: { maxInboundStreams?: number; maxOutboundStreams?: number },
    ): Promise<void>;
    unhandle(protocol: string, options?: AbortOptions): Promise<void>;
  };
  /** Opens streams to peers. */
  connectionManager: {
    openStream(
      peer: PeerId | Multiaddr | Multiaddr[],
      protocol: string | string[],
      options?: AbortOptions,
    ): Promise<Stream>;
  };
}

/** Options of {@linkcode payloadService}. */
export interface PayloadServiceInit extends PayloadServerOptions {
  /** The store served from and fetched into (default: a new {@linkcode PayloadStore}). */
  store?: PayloadStore;
}

/**
 * The payload protocol as a libp2p service: mounts a {@linkcode PayloadServer} over its store
 * on start, unmounts it (resetting requests in flight) on stop, and fetches into the store.
 */
export class PayloadService {
  /** The content-addressed store served from. */
  readonly store: PayloadStore;
  /** The server (its `stats` count requests). */
  readonly server: PayloadServer;
  readonly #components: PayloadServiceComponents;
  readonly #maxPerPeer: number;
  readonly #dialer: PayloadDialer;
  #started = false;

  /** A service over libp2p `components` (use {@linkcode payloadService} in a libp2p config). */
  constructor(components: PayloadServiceComponents, init: PayloadServiceInit = {}) {
    this.#components = components;
    this.store = init.store ?? new PayloadStore({ maxPayloadBytes: init.maxPayloadBytes });
    this.server = new PayloadServer(this.store, init);
    this.#maxPerPeer = init.maxConcurrentPerPeer ?? DEFAULT_MAX_CONCURRENT_PER_PEER;
    this.#dialer = {
      dialProtocol: (peer, protocols, options) =>
        components.connectionManager.openStream(peer, protocols, options),
    };
  }

  /** Registers the protocol handler. */
  async start(): Promise<void> {
    if (this.#started) return;
    // libp2p resets streams beyond maxInboundStreams per connection; leave room so that
    // the server's own per-peer limit answers BUSY instead.
    await this.#components.registrar.handle(PAYLOAD_PROTOCOL, this.server.handler, {
      maxInboundStreams: this.#maxPerPeer * 2 + 2,
      maxOutboundStreams: 64,
    });
    this.#started = true;
  }

  /** Unregisters the handler and resets requests in flight. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.server.close();
    await this.#components.registrar.unhandle(PAYLOAD_PROTOCOL).catch(() => {});
  }

  /** Fetches from one provider (not stored). */
  fetchPayload(provider: Provider, hash: PayloadHash, options?: FetchOptions): Promise<Uint8Array> {
    return fetchPayload(this.#dialer, provider, hash, options);
  }

  /**
   * Returns the payload from the store if held, else fetches it from the first provider that
   * delivers and stores it (so this node serves it too).
   */
  async fetch(
    hash: PayloadHash,
    providers: readonly Provider[],
    options: FetchFromAnyOptions = {},
  ): Promise<Uint8Array> {
    const held = this.store.get(hash);
    if (held !== undefined) return held;
    const { bytes } = await fetchFromAny(this.#dialer, providers, hash, options);
    await this.store.put(hash, bytes).catch((err) => {
      // Verified already; only a full store of pinned payloads can refuse. Still return it.
      if (!isNetError(err, "too_large")) throw err;
    });
    return bytes;
  }
}

/** A libp2p service factory for {@linkcode PayloadService} (`services: { payload: … }`). */
export function payloadService(
  init: PayloadServiceInit = {},
): (components: PayloadServiceComponents) => PayloadService {
  return (components) => new PayloadService(components, init);
}
