/**
 * What the payload and sync protocols share: one request and one framed response per stream.
 *
 * ```
 * response  status (u8) ‖ uvarint(length) ‖ length bytes   then the server closes its side
 *           status 0 OK: the body; any other: a UTF-8 reason of at most 256 bytes
 * ```
 *
 * {@linkcode RequestServer} is the server side (per-peer and total concurrency limits, request
 * and response deadlines, BUSY and BAD_REQUEST answers, a handler that never throws),
 * {@linkcode requestResponse} the client side (dial, request, a length checked before the body
 * is read), and {@linkcode ProtocolService} mounts a server as a libp2p service.
 *
 * @module
 */

import type { AbortOptions, Connection, PeerId, Stream, StreamHandler } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { isNetError, NetError } from "./errors.ts";
import {
  closeSoon,
  type Deadline,
  deadline,
  encodeUvarint,
  errorMessage,
  StreamReader,
  writeAll,
} from "./stream_io.ts";

/** The OK status of every response; other statuses carry a reason. */
export const STATUS_OK = 0;
/** Longest reason text in an error response. */
export const MAX_REASON_BYTES = 256;
/** Most bytes of a response's length varint (lengths below 2^49). */
export const MAX_LENGTH_VARINT_BYTES = 7;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** A response header: status ‖ uvarint(length). */
export function encodeResponseHeader(status: number, length: number): Uint8Array {
  const len = encodeUvarint(length);
  const out = new Uint8Array(1 + len.length);
  out[0] = status;
  out.set(len, 1);
  return out;
}

/** A whole response: status ‖ uvarint(body length) ‖ body. */
export function encodeResponse(status: number, body: Uint8Array): Uint8Array {
  const head = encodeResponseHeader(status, body.length);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/** An error response: `status` and `reason`, cut to {@linkcode MAX_REASON_BYTES}. */
export function encodeErrorResponse(status: number, reason: string): Uint8Array {
  return encodeResponse(status, encoder.encode(reason).subarray(0, MAX_REASON_BYTES));
}

/** A remote's reason text with anything but printable ASCII replaced (one safe line). */
export function printable(reason: string): string {
  return reason.replace(/[^\x20-\x7e]/g, "?");
}

// ---------------------------------------------------------------- the server side

/** The counters every {@linkcode RequestServer} keeps (protocols add their own). */
export interface RequestServerCounters {
  /** BUSY answers. */
  busy: number;
  /** BAD_REQUEST answers and requests dropped as malformed or late. */
  rejected: number;
  /** Requests that ended in an error while answering (resets, timeouts). */
  errors: number;
}

/** The limits every {@linkcode RequestServer} takes; each protocol sets its own defaults. */
export interface RequestServerOptions {
  /** Requests served at once to one peer; more are answered BUSY. */
  maxConcurrentPerPeer?: number;
  /** Requests served at once in total; more are answered BUSY. */
  maxConcurrent?: number;
  /** Time for the request to arrive once the stream is open. */
  requestTimeoutMs?: number;
  /** Time to answer the request. */
  responseTimeoutMs?: number;
  /** Called with each failed request; for logs. */
  onError?: (err: unknown, peer: string) => void;
}

/** What a protocol tells its {@linkcode RequestServer}: its name, statuses and defaults. */
export interface RequestServerProtocol extends Required<Omit<RequestServerOptions, "onError">> {
  /** The protocol's short name, for deadlines and reset reasons ("payload", "sync"). */
  name: string;
  /** The BUSY status and its reason. */
  busy: { status: number; reason: string };
  /** The BAD_REQUEST status. */
  badRequestStatus: number;
}

/** How a {@linkcode RequestServer} runs: the protocol's settings with the options applied. */
export type RequestServerConfig = RequestServerProtocol & Pick<RequestServerOptions, "onError">;

/**
 * Answers one request per stream: reads it within the request deadline (a `protocol` NetError
 * is answered BAD_REQUEST, other failures reset the stream), then lets the protocol answer
 * within the response deadline. `handle` is the stream handler; it never throws.
 */
export abstract class RequestServer<Request, Stats extends RequestServerCounters> {
  /** Counters since construction. */
  readonly stats: Stats;
  /** The limits and timeouts in force. */
  protected readonly config: RequestServerConfig;
  readonly #perPeer = new Map<string, number>();
  readonly #streams = new Set<Stream>();
  #closed = false;

  /** A server of `protocol` counting into `stats`, within `options` (else its defaults). */
  protected constructor(
    stats: Stats,
    options: RequestServerOptions,
    protocol: RequestServerProtocol,
  ) {
    this.stats = stats;
    this.config = {
      ...protocol,
      maxConcurrentPerPeer: options.maxConcurrentPerPeer ?? protocol.maxConcurrentPerPeer,
      maxConcurrent: options.maxConcurrent ?? protocol.maxConcurrent,
      requestTimeoutMs: options.requestTimeoutMs ?? protocol.requestTimeoutMs,
      responseTimeoutMs: options.responseTimeoutMs ?? protocol.responseTimeoutMs,
      onError: options.onError,
    };
  }

  /** Reads and decodes the request; throws a `protocol` NetError if it is malformed. */
  protected abstract readRequest(reader: StreamReader, signal: AbortSignal): Promise<Request>;

  /** Answers `request` and closes the stream, within `signal`; counts what it sends. */
  protected abstract respond(
    stream: Stream,
    request: Request,
    signal: AbortSignal,
    peer: string,
  ): Promise<void>;

  /** Requests being answered now. */
  get active(): number {
    return this.#streams.size;
  }

  /** Requests being answered now for one peer. */
  activeFor(peer: string): number {
    return this.#perPeer.get(peer) ?? 0;
  }

  /** Requests served at once to one peer; more are answered BUSY. */
  get maxConcurrentPerPeer(): number {
    return this.config.maxConcurrentPerPeer;
  }

  /** The libp2p stream handler of this server. */
  readonly handler: StreamHandler = (stream: Stream, connection: Connection) =>
    this.handle(stream, connection.remotePeer.toString());

  /** Refuses new requests and resets the ones in flight. */
  close(): void {
    this.#closed = true;
    for (const s of this.#streams) s.abort(this.#stopped());
    this.#streams.clear();
  }

  /** Answers one request on `stream` from `peer`. Never throws. */
  async handle(stream: Stream, peer: string): Promise<void> {
    try {
      // Whatever the client sends beyond the request is at most this much, then a reset.
      stream.maxReadBufferLength = 4096;
    } catch { /* not settable on every stream kind */ }
    if (this.#closed) {
      stream.abort(this.#stopped());
      return;
    }
    const { name, maxConcurrentPerPeer, maxConcurrent } = this.config;
    const mine = this.#perPeer.get(peer) ?? 0;
    if (mine >= maxConcurrentPerPeer || this.#streams.size >= maxConcurrent) {
      this.stats.busy++;
      await this.#refuse(stream, this.config.busy.status, this.config.busy.reason, peer);
      return;
    }
    this.#perPeer.set(peer, mine + 1);
    this.#streams.add(stream);
    const reader = new StreamReader(stream, { maxBuffered: 1024 });
    let phase: "request" | "response" = "request";
    let dl = deadline(this.config.requestTimeoutMs, `${name} request`);
    try {
      const request = await this.readRequest(reader, dl.signal);
      dl.clear();
      phase = "response";
      dl = deadline(this.config.responseTimeoutMs, `${name} response`);
      await this.respond(stream, request, dl.signal, peer);
    } catch (err) {
      if (phase === "request" && isNetError(err, "protocol")) {
        // Malformed or cut short: worth an answer. Timeouts and overflows get a reset.
        this.stats.rejected++;
        await this.#refuse(
          stream,
          this.config.badRequestStatus,
          `malformed request: ${err.message}`,
          peer,
        );
      } else {
        if (phase === "request") this.stats.rejected++;
        else this.stats.errors++;
        stream.abort(err instanceof Error ? err : new NetError("protocol", String(err)));
      }
      this.report(err, peer);
    } finally {
      dl.clear();
      reader.dispose();
      this.#streams.delete(stream);
      const n = (this.#perPeer.get(peer) ?? 1) - 1;
      if (n <= 0) this.#perPeer.delete(peer);
      else this.#perPeer.set(peer, n);
    }
  }

  /** Sends `bytes` and closes the stream within `signal`. */
  protected async send(stream: Stream, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
    await writeAll(stream, bytes, signal);
    await stream.close({ signal });
  }

  /**
   * Sends an OK response of `body` and closes the stream: header and body apart, so that a
   * body of up to 256 MiB is not copied.
   */
  protected async sendOk(stream: Stream, body: Uint8Array, signal: AbortSignal): Promise<void> {
    await writeAll(stream, encodeResponseHeader(STATUS_OK, body.length), signal);
    await this.send(stream, body, signal);
  }

  /** Sends an error response (`status`, `reason`) and closes the stream. */
  protected async sendError(
    stream: Stream,
    status: number,
    reason: string,
    signal: AbortSignal,
  ): Promise<void> {
    await this.send(stream, encodeErrorResponse(status, reason), signal);
  }

  /** A short deadline for an error answer, whatever time is left of the others. */
  protected shortDeadline(what: string): Deadline {
    return deadline(Math.min(this.config.requestTimeoutMs, 5_000), what);
  }

  /** Passes a failed request to `onError`. */
  protected report(err: unknown, peer: string): void {
    try {
      this.config.onError?.(err, peer);
    } catch { /* a logger must not break the server */ }
  }

  #stopped(): NetError {
    return new NetError("aborted", `${this.config.name} server stopped`);
  }

  /** Best-effort error answer with its own short deadline; resets on failure. */
  async #refuse(stream: Stream, status: number, reason: string, peer: string): Promise<void> {
    const dl = this.shortDeadline(`${this.config.name} refusal`);
    try {
      await this.sendError(stream, status, reason, dl.signal);
    } catch (err) {
      stream.abort(err instanceof Error ? err : new NetError("protocol", String(err)));
      this.report(err, peer);
    } finally {
      dl.clear();
    }
  }
}

// ---------------------------------------------------------------- the client side

/** Where to ask: a peer id (known addresses), a multiaddr, or either as text. */
export type Provider = PeerId | Multiaddr | string;

/** What a client needs of a node: libp2p's `dialProtocol`. */
export interface ProtocolDialer {
  /** Opens a stream for `protocols` to `peer`, dialing if needed. */
  dialProtocol(
    peer: PeerId | Multiaddr | Multiaddr[],
    protocols: string | string[],
    options?: AbortOptions,
  ): Promise<Stream>;
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

/** A provider as text for messages, cut to 200 characters. */
export function describeProvider(provider: Provider): string {
  return String(provider).slice(0, 200);
}

/**
 * Tries `providers` in order until `attempt` succeeds (payloads, content): one provider's
 * failure is reported to `onProviderError` and the next one tried; the signal stops all.
 * Throws `aborted`, or `unavailable` naming `what` with every provider's error in `cause`.
 */
export async function tryProviders<T>(
  providers: readonly Provider[],
  what: string,
  attempt: (provider: Provider) => Promise<T>,
  options: {
    signal?: AbortSignal;
    onProviderError?: (provider: Provider, err: NetError) => void;
  } = {},
): Promise<T> {
  const errors: NetError[] = [];
  for (const provider of providers) {
    if (options.signal?.aborted) throw new NetError("aborted", `${what} aborted`);
    try {
      return await attempt(provider);
    } catch (err) {
      const e = err instanceof NetError
        ? err
        : new NetError("protocol", errorMessage(err), { cause: err });
      if (e.code === "aborted" || options.signal?.aborted) throw e;
      errors.push(e);
      try {
        options.onProviderError?.(provider, e);
      } catch { /* a callback must not stop the search */ }
    }
  }
  throw new NetError(
    "unavailable",
    `${what} unavailable from ${providers.length} provider(s)` +
      (errors.length > 0 ? `: ${errors.map((e) => e.message).join("; ")}` : ""),
    { cause: new AggregateError(errors, "provider errors") },
  );
}

/** One exchange of {@linkcode requestResponse}. */
export interface Exchange<T> {
  /** The protocol id to dial. */
  protocol: string;
  /** The request bytes, sent whole before the client closes its side. */
  request: Uint8Array;
  /** What is being done, the prefix of every error message. */
  what: string;
  /** Deadline of the whole exchange, dial included. */
  timeoutMs: number;
  /** Aborts the exchange. */
  signal?: AbortSignal;
  /** Longest OK body accepted; a longer one is refused unread with `too_large`. */
  maxBody: number;
  /** Most unread bytes buffered while the header is parsed. */
  maxBuffered: number;
  /** What the body is called in the `too_large` message ("payload", "response"). */
  bodyName: string;
  /** Whether bytes after the body are a `protocol` error. */
  rejectTrailing?: boolean;
  /** The error of a non-OK status, from the server's reason (printable already). */
  statusError(status: number, reason: string): NetError;
  /** Decodes an OK body; a NetError it throws gets `what` as prefix. */
  decode(body: Uint8Array): T | Promise<T>;
}

/**
 * Dials `provider`, sends the request, reads one framed response and decodes its body. Throws
 * a {@linkcode NetError}: `invalid_argument` (not a provider), the status error, `too_large`,
 * `protocol`, `timeout`, `aborted`, `dial`, or what `decode` throws.
 */
export async function requestResponse<T>(
  node: ProtocolDialer,
  provider: Provider,
  x: Exchange<T>,
): Promise<T> {
  const target = toDialTarget(provider);
  const { what } = x;
  const dl = deadline(x.timeoutMs, what, x.signal);
  let stream: Stream | undefined;
  let reader: StreamReader | undefined;
  try {
    try {
      stream = await node.dialProtocol(target, x.protocol, { signal: dl.signal });
    } catch (err) {
      if (dl.signal.aborted) throw dl.signal.reason;
      throw new NetError("dial", `${what}: cannot open a stream: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    // Bytes may arrive before the header is parsed: buffer at most what we would accept.
    reader = new StreamReader(stream, { maxBuffered: x.maxBuffered });
    await writeAll(stream, x.request, dl.signal);
    await stream.close({ signal: dl.signal });
    const status = await reader.readByteOrEnd(dl.signal);
    if (status === null) throw new NetError("protocol", `${what}: stream ended without an answer`);
    const length = await reader.readUvarint(MAX_LENGTH_VARINT_BYTES, dl.signal);
    if (status !== STATUS_OK) {
      if (length > MAX_REASON_BYTES) {
        throw new NetError("protocol", `${what}: reason of ${length} bytes`);
      }
      const reason = decoder.decode(await reader.readExactly(length, dl.signal));
      const e = x.statusError(status, printable(reason));
      throw new NetError(e.code, `${what}: ${e.message}`);
    }
    if (length > x.maxBody) {
      throw new NetError(
        "too_large",
        `${what}: ${x.bodyName} of ${length} bytes, at most ${x.maxBody} accepted`,
      );
    }
    const body = await reader.readExactly(length, dl.signal);
    if (x.rejectTrailing && reader.buffered > 0) {
      throw new NetError("protocol", `${what}: ${reader.buffered} trailing bytes`);
    }
    let out: T;
    try {
      out = await x.decode(body);
    } catch (err) {
      throw isNetError(err) ? new NetError(err.code, `${what}: ${err.message}`) : err;
    }
    reader.dispose();
    closeSoon(stream);
    return out;
  } catch (err) {
    const e = dl.signal.aborted && !isNetError(err) ? dl.signal.reason : err;
    const out = e instanceof NetError
      ? e
      : new NetError("protocol", `${what}: ${errorMessage(e)}`, { cause: e });
    stream?.abort(out);
    throw out;
  } finally {
    reader?.dispose();
    dl.clear();
  }
}

// ---------------------------------------------------------------- the libp2p service

/** The components a {@linkcode ProtocolService} uses (a subset of libp2p's). */
export interface ServiceComponents {
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

/** What a {@linkcode ProtocolService} mounts. */
export interface MountableServer {
  /** The stream handler. */
  readonly handler: StreamHandler;
  /** Requests served at once to one peer (libp2p's stream limit leaves room for more). */
  readonly maxConcurrentPerPeer: number;
  /** Refuses new requests and resets the ones in flight. */
  close(): void;
}

/**
 * A protocol as a libp2p service: mounts its server on start, unmounts it (resetting requests
 * in flight) on stop, and dials through the connection manager.
 */
export class ProtocolService<S extends MountableServer> {
  /** The server (its `stats` count requests). */
  readonly server: S;
  /** Opens client streams through the node's connection manager. */
  protected readonly dialer: ProtocolDialer;
  readonly #components: ServiceComponents;
  readonly #protocol: string;
  readonly #maxInbound: number;
  readonly #maxOutbound: number;
  #started = false;

  /** Serves `protocol` with `server`; opens at most `maxOutboundStreams` per connection. */
  constructor(
    components: ServiceComponents,
    protocol: string,
    server: S,
    maxOutboundStreams: number,
  ) {
    this.#components = components;
    this.#protocol = protocol;
    this.server = server;
    // libp2p resets streams beyond maxInboundStreams per connection; leave room so that
    // the server's own per-peer limit answers BUSY instead.
    this.#maxInbound = server.maxConcurrentPerPeer * 2 + 2;
    this.#maxOutbound = maxOutboundStreams;
    this.dialer = {
      dialProtocol: (peer, protocols, options) =>
        components.connectionManager.openStream(peer, protocols, options),
    };
  }

  /** Registers the protocol handler. */
  async start(): Promise<void> {
    if (this.#started) return;
    await this.#components.registrar.handle(this.#protocol, this.server.handler, {
      maxInboundStreams: this.#maxInbound,
      maxOutboundStreams: this.#maxOutbound,
    });
    this.#started = true;
  }

  /** Unregisters the handler and resets requests in flight. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.server.close();
    await this.#components.registrar.unhandle(this.#protocol).catch(() => {});
  }
}
