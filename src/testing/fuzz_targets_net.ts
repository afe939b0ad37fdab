/**
 * Fuzz targets for the stream protocols (payload, content, sync), both sides: fuzzed request
 * bytes into each server's stream handler, fuzzed response bytes into each client, delivered
 * through an in-memory stream in input-dependent chunks, so the framing of
 * `src/net/stream_io.ts` (varints, exact reads, early ends) is fuzzed with them. A server must
 * answer (an error status with a one-line reason) or reset the stream with a `NetError`, and
 * never throw; a client must return or throw a `NetError`.
 *
 * @module
 */

import type { Stream } from "@libp2p/interface";
import type { FuzzSeed, FuzzTarget } from "../codec/fuzz.ts";
import { NetError } from "../net/errors.ts";
import { encodeRequest, fetchPayload, PayloadServer } from "../net/payload_protocol.ts";
import {
  chunkCount,
  ContentKind,
  type ContentManifest,
  ContentServer,
  type ContentSource,
  encodeContentRequest,
  fetchChunk,
  fetchManifest,
} from "../net/content_protocol.ts";
import {
  encodeSyncError,
  encodeSyncRequest,
  encodeSyncResponse,
  syncFrom,
  SyncServer,
} from "../net/sync_protocol.ts";
import { encodeErrorResponse, encodeResponse, type ProtocolDialer } from "../net/stream_service.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { hashHex } from "../net/payload_store.ts";
import { Rng } from "../util/rng.ts";

/**
 * Just enough of a libp2p stream for the protocol code: delivers `incoming` in chunks once a
 * reader listens, then ends the remote side; records what is sent and how it ends.
 */
class FuzzStream extends EventTarget {
  status: "open" | "closed" | "aborted" = "open";
  maxReadBufferLength = Infinity;
  readonly sent: Uint8Array[] = [];
  abortedWith: unknown = undefined;
  #delivering = false;

  constructor(readonly incoming: Uint8Array) {
    super();
  }

  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener, options);
    if (type === "message" && !this.#delivering) {
      this.#delivering = true;
      void this.#deliver();
    }
  }

  async #deliver(): Promise<void> {
    // Chunk sizes from the input itself: deterministic per input, varied across inputs.
    const b = this.incoming;
    const rng = new Rng(b.length * 131 + (b[0] ?? 0) * 7 + (b[b.length - 1] ?? 0));
    for (let off = 0; off < b.length && this.status === "open";) {
      await Promise.resolve();
      const n = 1 + rng.int(rng.int(4) === 0 ? 4 : 64);
      const data = b.subarray(off, off + n);
      off += n;
      this.dispatchEvent(Object.assign(new Event("message"), { data }));
    }
    await Promise.resolve();
    if (this.status === "open") this.dispatchEvent(new Event("remoteCloseWrite"));
  }

  send(data: Uint8Array): boolean {
    if (this.status !== "open") throw new NetError("aborted", "stream is closed");
    this.sent.push(data.slice());
    return true;
  }

  onDrain(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  abort(err: unknown): void {
    if (this.status !== "open") return;
    this.status = "aborted";
    this.abortedWith = err;
    this.dispatchEvent(Object.assign(new Event("close"), { error: err }));
  }

  /** The whole of what was sent. */
  output(): Uint8Array {
    const out = new Uint8Array(this.sent.reduce((n, s) => n + s.length, 0));
    let off = 0;
    for (const s of this.sent) {
      out.set(s, off);
      off += s.length;
    }
    return out;
  }

  /** As the libp2p type the protocol code takes (only the members above are used). */
  asStream(): Stream {
    return this as unknown as Stream;
  }
}

/** A dialer whose every stream answers with `response`. */
function dialerAnswering(response: Uint8Array): ProtocolDialer {
  return { dialProtocol: () => Promise.resolve(new FuzzStream(response).asStream()) };
}

const PROVIDER = "/ip4/127.0.0.1/tcp/4001";

/**
 * Runs `server.handle` on a stream carrying `input` and classifies what it did: an OK answer
 * is accepted, an error answer or a reset with a NetError is a refusal, anything else throws.
 */
async function serve(
  server: { handle(stream: Stream, peer: string): Promise<void> },
  input: Uint8Array,
): Promise<"accepted" | { rejected: string }> {
  const stream = new FuzzStream(input);
  await server.handle(stream.asStream(), "fuzzer");
  const out = stream.output();
  if (stream.abortedWith !== undefined && out.length === 0) {
    if (!(stream.abortedWith instanceof NetError)) {
      throw new Error(`reset with a non-NetError: ${String(stream.abortedWith)}`);
    }
    return { rejected: `reset: ${stream.abortedWith.message}` };
  }
  if (out.length === 0) throw new Error("no answer and no reset");
  if (out[0] === 0) return "accepted";
  // status ‖ uvarint(length) ‖ reason: the reason is short, so one varint byte.
  return { rejected: `status ${out[0]}: ${new TextDecoder().decode(out.subarray(2))}` };
}

/** A client call: its value is accepted, a NetError a refusal (thrown through). */
async function client(call: Promise<unknown>): Promise<"accepted"> {
  await call;
  return "accepted";
}

// ---------------------------------------------------------------- payload protocol

const PAYLOAD = new TextEncoder().encode("a payload held by the server ".repeat(20));
const PAYLOAD_HASH = hex(await sha256(PAYLOAD));
const OTHER_HASH = "cd".repeat(32);

const payloadServer = new PayloadServer({
  get: (h) => (hashHex(h) === PAYLOAD_HASH ? PAYLOAD : undefined),
}, { maxConcurrentPerPeer: 1_000_000, maxConcurrent: 1_000_000 });

const PAYLOAD_SERVER: FuzzTarget = {
  name: "payload-server",
  about: "payload protocol requests (PayloadServer over a stream)",
  seeds: () =>
    Promise.resolve([PAYLOAD_HASH, OTHER_HASH].map((h) => ({ bytes: encodeRequest(h) }))),
  errors: [],
  maxRandomBytes: 80,
  decode: (input) => serve(payloadServer, input),
};

const PAYLOAD_CLIENT: FuzzTarget = {
  name: "payload-client",
  about: "payload protocol responses (fetchPayload over a stream)",
  seeds: () =>
    Promise.resolve([
      encodeResponse(0, PAYLOAD),
      encodeErrorResponse(1, "not found"),
      encodeErrorResponse(3, "busy, try another provider"),
    ].map((bytes) => ({ bytes, fields: [{ offset: 1, width: 2 }] }))),
  errors: [NetError],
  maxRandomBytes: 700,
  decode: (input) =>
    client(fetchPayload(dialerAnswering(input), PROVIDER, PAYLOAD_HASH, { maxBytes: 4096 })),
};

// ---------------------------------------------------------------- content protocol

/** A small file served by the content server (one short chunk: a fast manifest). */
const FILE = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
const FILE_HASH = hex(await sha256(FILE));
const FILE_MANIFEST: ContentManifest = { size: FILE.length, chunks: [await sha256(FILE)] };

const contentSource: ContentSource = {
  size: (sha) => Promise.resolve(sha === FILE_HASH ? FILE.length : undefined),
  read: (_sha, offset, length) => Promise.resolve(FILE.slice(offset, offset + length)),
};
const contentServer = new ContentServer(contentSource, {
  maxConcurrentPerPeer: 1_000_000,
  maxConcurrent: 1_000_000,
});

const CONTENT_SERVER: FuzzTarget = {
  name: "content-server",
  about: "content protocol requests (ContentServer over a stream)",
  seeds: () =>
    Promise.resolve([
      encodeContentRequest(ContentKind.MANIFEST, FILE_HASH, 0),
      encodeContentRequest(ContentKind.CHUNK, FILE_HASH, 0),
      encodeContentRequest(ContentKind.CHUNK, FILE_HASH, 1),
      encodeContentRequest(ContentKind.MANIFEST, OTHER_HASH, 0),
    ].map((bytes) => ({ bytes, fields: [{ offset: 34, width: 4, be: true }] }))),
  errors: [],
  maxRandomBytes: 80,
  decode: (input) => serve(contentServer, input),
};

/** The manifest body of a file of `size` bytes (chunk hashes arbitrary). */
function manifestBody(size: number): Uint8Array {
  const out = new Uint8Array(8 + chunkCount(size) * 32).fill(0x5a);
  new DataView(out.buffer).setBigUint64(0, BigInt(size));
  return out;
}

const CONTENT_MANIFEST: FuzzTarget = {
  name: "content-manifest",
  about: "content manifests (fetchManifest over a stream)",
  seeds: () =>
    Promise.resolve([
      { bytes: encodeResponse(0, manifestBody(FILE.length)), context: FILE.length },
      { bytes: encodeResponse(0, manifestBody(3 * 1024 * 1024 + 5)), context: undefined },
      { bytes: encodeResponse(0, manifestBody(0)), context: 0 },
      { bytes: encodeErrorResponse(1, "not found"), context: undefined },
    ].map((s): FuzzSeed => ({ ...s, fields: [{ offset: 2, width: 4, be: true }] }))),
  errors: [NetError],
  maxRandomBytes: 200,
  decode: (input, seed) =>
    client(fetchManifest(dialerAnswering(input), PROVIDER, FILE_HASH, {
      maxBytes: 64 * 1024 * 1024,
      expectedBytes: seed.context as number | undefined,
    })),
};

const CONTENT_CHUNK: FuzzTarget = {
  name: "content-chunk",
  about: "content chunks (fetchChunk over a stream, checked against the manifest)",
  seeds: () =>
    Promise.resolve([
      encodeResponse(0, FILE),
      encodeErrorResponse(4, "chunk 3 of a file of 1 chunks"),
    ].map((bytes) => ({ bytes, fields: [{ offset: 1, width: 2 }] }))),
  errors: [NetError],
  maxRandomBytes: 200,
  decode: (input) =>
    client(fetchChunk(dialerAnswering(input), PROVIDER, FILE_HASH, FILE_MANIFEST, 0)),
};

// ---------------------------------------------------------------- sync protocol

const RECORDS = [new Uint8Array(200).fill(1), new Uint8Array(120).fill(2)];
const syncServer = new SyncServer({ maxConcurrentPerPeer: 1_000_000, maxConcurrent: 1_000_000 });
syncServer.setSource({
  records: (from, max) => RECORDS.slice(Math.min(from, RECORDS.length), max),
  checkpoint: () => ({ window: 4, hash: "ef".repeat(32), size: 1234 }),
});

const SYNC_SERVER: FuzzTarget = {
  name: "sync-server",
  about: "sync protocol requests (SyncServer over a stream)",
  seeds: () =>
    Promise.resolve(
      [0, 1, 0xffffffff].map((w) => ({ bytes: encodeSyncRequest(w), fields: [] })),
    ),
  errors: [],
  maxRandomBytes: 16,
  decode: (input) => serve(syncServer, input),
};

const SYNC_CLIENT: FuzzTarget = {
  name: "sync-client",
  about: "sync protocol responses (syncFrom over a stream)",
  seeds: () =>
    Promise.resolve([
      encodeSyncResponse({ checkpoint: null, records: RECORDS, more: true }),
      encodeSyncResponse({
        checkpoint: { window: 9, hash: "01".repeat(32), size: 77 },
        records: [],
        more: false,
      }),
      encodeSyncError(1, "no history served"),
    ].map((bytes) => ({ bytes }))),
  errors: [NetError],
  maxRandomBytes: 600,
  decode: (input) => client(syncFrom(dialerAnswering(input), PROVIDER, 0)),
};

/** The stream-protocol targets, in report order. */
export const NET_TARGETS: readonly FuzzTarget[] = [
  PAYLOAD_SERVER,
  PAYLOAD_CLIENT,
  CONTENT_SERVER,
  CONTENT_MANIFEST,
  CONTENT_CHUNK,
  SYNC_SERVER,
  SYNC_CLIENT,
];
