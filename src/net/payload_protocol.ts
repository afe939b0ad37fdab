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

import type { Stream } from "@libp2p/interface";
import { isNetError, NetError } from "./errors.ts";
import {
  hashBytes,
  hashHex,
  type PayloadHash,
  type PayloadSource,
  PayloadStore,
} from "./payload_store.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { DEFAULT_MAX_PAYLOAD_BYTES, HASH_BYTES, PAYLOAD_PROTOCOL } from "./protocols.ts";
import type { StreamReader } from "./stream_io.ts";
import { FetchStatus, fetchStatusError } from "./fetch_status.ts";
import {
  describeProvider,
  type ProtocolDialer,
  ProtocolService,
  type Provider,
  requestResponse,
  RequestServer,
  type RequestServerCounters,
  type RequestServerOptions,
  type ServiceComponents,
  tryProviders,
} from "./stream_service.ts";

export {
  encodeResponseHeader,
  MAX_REASON_BYTES,
  type Provider,
  toDialTarget,
} from "./stream_service.ts";

/** Response status codes (the content protocol's too: {@linkcode FetchStatus}). */
export const PayloadStatus: typeof FetchStatus = FetchStatus;

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

/** The request bytes for `hash`: uvarint(32) ‖ hash. */
export function encodeRequest(hash: PayloadHash): Uint8Array {
  const out = new Uint8Array(1 + HASH_BYTES);
  out[0] = HASH_BYTES;
  out.set(hashBytes(hash), 1);
  return out;
}

/**
 * Limits of a {@linkcode PayloadServer}. Defaults: 4 requests at once per peer, 64 in all,
 * 10 s for the request to arrive, 120 s to send the whole response.
 */
export interface PayloadServerOptions extends RequestServerOptions {
  /** Largest payload served; larger ones are answered TOO_LARGE (default 256 MiB). */
  maxPayloadBytes?: number;
}

/** Counters of a {@linkcode PayloadServer}; its `rejected` also count TOO_LARGE answers. */
export interface PayloadServerStats extends RequestServerCounters {
  /** Payloads sent in full. */
  served: number;
  /** NOT_FOUND answers. */
  notFound: number;
}

/**
 * Answers payload requests from a {@linkcode PayloadSource}. `handle` is the stream handler;
 * it never throws.
 */
export class PayloadServer extends RequestServer<Uint8Array, PayloadServerStats> {
  readonly #source: PayloadSource;
  readonly #maxPayloadBytes: number;

  /** A server answering from `source` within the limits of `options`. */
  constructor(source: PayloadSource, options: PayloadServerOptions = {}) {
    super({ served: 0, notFound: 0, busy: 0, rejected: 0, errors: 0 }, options, {
      name: "payload",
      maxConcurrentPerPeer: DEFAULT_MAX_CONCURRENT_PER_PEER,
      maxConcurrent: DEFAULT_MAX_CONCURRENT,
      requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
      responseTimeoutMs: DEFAULT_RESPONSE_TIMEOUT_MS,
      busy: { status: PayloadStatus.BUSY, reason: "busy, try another provider" },
      badRequestStatus: PayloadStatus.BAD_REQUEST,
    });
    this.#source = source;
    this.#maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  }

  /** The requested hash: uvarint(32) ‖ 32 bytes. */
  protected override async readRequest(
    reader: StreamReader,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    const len = await reader.readUvarint(2, signal);
    if (len !== HASH_BYTES) {
      throw new NetError("protocol", `request of ${len} bytes, not one 32-byte sha256`);
    }
    return await reader.readExactly(HASH_BYTES, signal);
  }

  /** The payload, or NOT_FOUND / TOO_LARGE. */
  protected override async respond(
    stream: Stream,
    hash: Uint8Array,
    signal: AbortSignal,
  ): Promise<void> {
    const bytes = this.#source.get(hash);
    if (bytes === undefined) {
      this.stats.notFound++;
      await this.sendError(stream, PayloadStatus.NOT_FOUND, "not found", signal);
    } else if (bytes.length > this.#maxPayloadBytes) {
      this.stats.rejected++;
      const reason =
        `payload of ${bytes.length} bytes exceeds this server's limit of ${this.#maxPayloadBytes}`;
      await this.sendError(stream, PayloadStatus.TOO_LARGE, reason, signal);
    } else {
      await this.sendOk(stream, bytes, signal);
      this.stats.served++;
    }
  }
}

/** What the client needs of a node: libp2p's `dialProtocol`. */
export type PayloadDialer = ProtocolDialer;

/** Options of {@linkcode fetchPayload}. */
export interface FetchOptions {
  /** Largest payload accepted; a longer answer is refused unread (default 256 MiB). */
  maxBytes?: number;
  /** Deadline of the whole fetch, dial included (default 120 s). */
  timeoutMs?: number;
  /** Aborts the fetch. */
  signal?: AbortSignal;
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
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  return await requestResponse(node, provider, {
    protocol: PAYLOAD_PROTOCOL,
    request: encodeRequest(wantHex),
    what: `fetch of ${wantHex.slice(0, 16)}… from ${describeProvider(provider)}`,
    timeoutMs: options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
    signal: options.signal,
    maxBody: maxBytes,
    maxBuffered: maxBytes + 64 * 1024,
    bodyName: "payload",
    statusError: fetchStatusError,
    decode: async (bytes) => {
      const got = hex(await sha256(bytes));
      if (got !== wantHex) throw new NetError("hash_mismatch", `bytes hash to ${got}`);
      return bytes;
    },
  });
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
  return await tryProviders(
    providers,
    `payload ${wantHex.slice(0, 16)}…`,
    async (provider) => ({ bytes: await fetchPayload(node, provider, wantHex, options), provider }),
    options,
  );
}

/** The components a {@linkcode PayloadService} uses (a subset of libp2p's). */
export type PayloadServiceComponents = ServiceComponents;

/** Options of {@linkcode payloadService}. */
export interface PayloadServiceInit extends PayloadServerOptions {
  /** The store served from and fetched into (default: a new {@linkcode PayloadStore}). */
  store?: PayloadStore;
}

/**
 * The payload protocol as a libp2p service: mounts a {@linkcode PayloadServer} over its store
 * on start, unmounts it (resetting requests in flight) on stop, and fetches into the store.
 */
export class PayloadService extends ProtocolService<PayloadServer> {
  /** The content-addressed store served from. */
  readonly store: PayloadStore;

  /** A service over libp2p `components` (use {@linkcode payloadService} in a libp2p config). */
  constructor(components: PayloadServiceComponents, init: PayloadServiceInit = {}) {
    const store = init.store ?? new PayloadStore({ maxPayloadBytes: init.maxPayloadBytes });
    super(components, PAYLOAD_PROTOCOL, new PayloadServer(store, init), 64);
    this.store = store;
  }

  /** Fetches from one provider (not stored). */
  fetchPayload(provider: Provider, hash: PayloadHash, options?: FetchOptions): Promise<Uint8Array> {
    return fetchPayload(this.dialer, provider, hash, options);
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
    const { bytes } = await fetchFromAny(this.dialer, providers, hash, options);
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
