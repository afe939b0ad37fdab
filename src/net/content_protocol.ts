/**
 * The content protocol: the files a genesis names (corpus shards, the tokenizer), fetched by
 * SHA-256 from any node that holds them, in chunks, so that a peer with nothing but the
 * genesis file and one bootstrap address can start.
 *
 * ```
 * request   uvarint(37) ‖ kind (u8) ‖ sha256 (32 bytes) ‖ chunk index (u32 BE)
 *           kind 0 MANIFEST (index 0), kind 1 CHUNK
 * response  status (u8) ‖ uvarint(length) ‖ length bytes   then the server closes its side
 *           status 0 OK: the body; 1 NOT_FOUND, 2 TOO_LARGE, 3 BUSY, 4 BAD_REQUEST: a reason
 * manifest  size (u64 BE) ‖ ceil(size / 1 MiB) SHA-256s, one per chunk
 * chunk     bytes [index·1 MiB, min(size, (index+1)·1 MiB))
 * ```
 *
 * A download takes a source's manifest (its size checked against the largest accepted before
 * anything else is read), keeps the chunks of a partial file that match it, fetches the rest
 * (each chunk checked against the manifest), then checks the SHA-256 of the whole against
 * the genesis before the partial file becomes the file. A source whose chunk or whole does
 * not match is dropped and the next one continues from the chunks already checked.
 *
 * Runtime-neutral: what is served ({@linkcode ContentSource}) and where a download goes
 * ({@linkcode PartialContent}) are seams; `src/cli/genesis_file_content.ts` is the Deno side.
 *
 * @module
 */

import type { Stream } from "@libp2p/interface";
import { NetError } from "./errors.ts";
import { sha256 } from "../util/hash.ts";
import { fromHex, hex } from "../util/hex.ts";
import { bytesEqual } from "../util/bytes.ts";
import { CONTENT_PROTOCOL, HASH_BYTES } from "./protocols.ts";
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

/** Bytes per chunk (the last chunk of a file may be shorter). */
export const CONTENT_CHUNK_BYTES = 1024 * 1024;

/** Default largest file served or downloaded (16 GiB: a manifest of at most 512 KiB). */
export const DEFAULT_MAX_CONTENT_BYTES = 16 * 1024 ** 3;

/** Length of a request body: kind, sha256, chunk index. */
export const CONTENT_REQUEST_BYTES = 1 + HASH_BYTES + 4;

/** Request kinds. */
export const ContentKind: Readonly<{ MANIFEST: 0; CHUNK: 1 }> = Object.freeze(
  {
    MANIFEST: 0,
    CHUNK: 1,
  } as const,
);

/** Response status codes (the payload protocol's: {@linkcode FetchStatus}). */
export const ContentStatus: typeof FetchStatus = FetchStatus;

/** What a node serves: files it holds, by lower-case hex SHA-256. */
export interface ContentSource {
  /** The length of the file with this SHA-256, or `undefined` when not held. */
  size(sha256: string): Promise<number | undefined>;
  /** `length` bytes of that file from `offset` (the caller stays within its size). */
  read(sha256: string, offset: number, length: number): Promise<Uint8Array>;
}

/** Where a download goes: a partial file that survives restarts, then the file. */
export interface PartialContent {
  /** Bytes held so far (0 when nothing was downloaded yet). */
  length(): Promise<number>;
  /** `length` bytes from `offset` of what is held. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Appends bytes at the end. */
  append(bytes: Uint8Array): Promise<void>;
  /** Cuts what is held to `length` bytes. */
  truncate(length: number): Promise<void>;
  /** Makes what is held (checked whole) the final file, in one atomic step. */
  complete(): Promise<void>;
}

/** The number of chunks of a file of `size` bytes. */
export function chunkCount(size: number): number {
  return Math.ceil(size / CONTENT_CHUNK_BYTES);
}

/** The request bytes: uvarint(37) ‖ kind ‖ sha256 ‖ index (u32 BE). */
export function encodeContentRequest(kind: number, sha256Hex: string, index: number): Uint8Array {
  const out = new Uint8Array(1 + CONTENT_REQUEST_BYTES);
  out[0] = CONTENT_REQUEST_BYTES;
  out[1] = kind;
  out.set(fromHex(sha256Hex), 2);
  new DataView(out.buffer).setUint32(2 + HASH_BYTES, index);
  return out;
}

/** A decoded request. */
interface ContentRequest {
  kind: number;
  sha256: string;
  index: number;
}

/** Limits of a {@linkcode ContentServer}. */
export interface ContentServerOptions extends RequestServerOptions {
  /** Largest file served; larger ones are answered TOO_LARGE (default 16 GiB). */
  maxContentBytes?: number;
}

/** Counters of a {@linkcode ContentServer}; its `rejected` also count TOO_LARGE answers. */
export interface ContentServerStats extends RequestServerCounters {
  /** Manifests sent. */
  manifests: number;
  /** Chunks sent. */
  chunks: number;
  /** NOT_FOUND answers. */
  notFound: number;
}

/** Manifests kept in memory (each costs one read of its file to make). */
const MANIFEST_CACHE_ENTRIES = 64;

/**
 * Answers manifest and chunk requests from a {@linkcode ContentSource} (none: every request
 * is NOT_FOUND). `handle` is the stream handler; it never throws.
 */
export class ContentServer extends RequestServer<ContentRequest, ContentServerStats> {
  #source: ContentSource | null;
  readonly #maxContentBytes: number;
  readonly #manifests = new Map<string, Uint8Array>();

  /** A server answering from `source` within the limits of `options`. */
  constructor(source: ContentSource | null, options: ContentServerOptions = {}) {
    super(
      { manifests: 0, chunks: 0, notFound: 0, busy: 0, rejected: 0, errors: 0 },
      options,
      {
        name: "content",
        maxConcurrentPerPeer: 4,
        maxConcurrent: 32,
        requestTimeoutMs: 10_000,
        responseTimeoutMs: 60_000,
        busy: { status: ContentStatus.BUSY, reason: "busy, try another provider" },
        badRequestStatus: ContentStatus.BAD_REQUEST,
      },
    );
    this.#source = source;
    this.#maxContentBytes = options.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  }

  /** Changes what is served (a node serves what it has once it has it). */
  setSource(source: ContentSource | null): void {
    this.#source = source;
    this.#manifests.clear();
  }

  /** kind ‖ sha256 ‖ index, of exactly {@linkcode CONTENT_REQUEST_BYTES}. */
  protected override async readRequest(
    reader: StreamReader,
    signal: AbortSignal,
  ): Promise<ContentRequest> {
    const len = await reader.readUvarint(2, signal);
    if (len !== CONTENT_REQUEST_BYTES) {
      throw new NetError("protocol", `request of ${len} bytes, not ${CONTENT_REQUEST_BYTES}`);
    }
    const b = await reader.readExactly(CONTENT_REQUEST_BYTES, signal);
    const kind = b[0];
    if (kind !== ContentKind.MANIFEST && kind !== ContentKind.CHUNK) {
      throw new NetError("protocol", `unknown request kind ${kind}`);
    }
    const index = new DataView(b.buffer, b.byteOffset, b.length).getUint32(1 + HASH_BYTES);
    return { kind, sha256: hex(b.subarray(1, 1 + HASH_BYTES)), index };
  }

  /** The manifest or the chunk, or NOT_FOUND / TOO_LARGE / BAD_REQUEST. */
  protected override async respond(
    stream: Stream,
    req: ContentRequest,
    signal: AbortSignal,
  ): Promise<void> {
    const source = this.#source;
    const size = source === null ? undefined : await source.size(req.sha256);
    if (source === null || size === undefined) {
      this.stats.notFound++;
      await this.sendError(stream, ContentStatus.NOT_FOUND, "not found", signal);
      return;
    }
    if (size > this.#maxContentBytes) {
      this.stats.rejected++;
      const reason =
        `file of ${size} bytes exceeds this server's limit of ${this.#maxContentBytes}`;
      await this.sendError(stream, ContentStatus.TOO_LARGE, reason, signal);
      return;
    }
    if (req.kind === ContentKind.MANIFEST) {
      await this.sendOk(stream, await this.#manifest(source, req.sha256, size), signal);
      this.stats.manifests++;
      return;
    }
    if (req.index >= chunkCount(size)) {
      this.stats.rejected++;
      const reason = `chunk ${req.index} of a file of ${chunkCount(size)} chunks`;
      await this.sendError(stream, ContentStatus.BAD_REQUEST, reason, signal);
      return;
    }
    const offset = req.index * CONTENT_CHUNK_BYTES;
    const bytes = await source.read(
      req.sha256,
      offset,
      Math.min(CONTENT_CHUNK_BYTES, size - offset),
    );
    await this.sendOk(stream, bytes, signal);
    this.stats.chunks++;
  }

  async #manifest(source: ContentSource, sha: string, size: number): Promise<Uint8Array> {
    const held = this.#manifests.get(sha);
    if (held !== undefined) return held;
    const n = chunkCount(size);
    const out = new Uint8Array(8 + n * HASH_BYTES);
    new DataView(out.buffer).setBigUint64(0, BigInt(size));
    for (let i = 0; i < n; i++) {
      const off = i * CONTENT_CHUNK_BYTES;
      const chunk = await source.read(sha, off, Math.min(CONTENT_CHUNK_BYTES, size - off));
      out.set(await sha256(chunk), 8 + i * HASH_BYTES);
    }
    if (this.#manifests.size >= MANIFEST_CACHE_ENTRIES) {
      this.#manifests.delete(this.#manifests.keys().next().value!);
    }
    this.#manifests.set(sha, out);
    return out;
  }
}

/** A decoded manifest. */
export interface ContentManifest {
  /** The file's length. */
  size: number;
  /** SHA-256 of each chunk. */
  chunks: Uint8Array[];
}

/** Options of {@linkcode downloadContent}. */
export interface DownloadOptions {
  /** Largest file accepted; a longer manifest is refused before any chunk (default 16 GiB). */
  maxBytes?: number;
  /** The length the genesis declares, if it does: a manifest of another length is refused. */
  expectedBytes?: number;
  /** Deadline of each request (manifest or chunk), dial included (default 60 s). */
  timeoutMs?: number;
  /** Aborts the download (what is held stays for the next try). */
  signal?: AbortSignal;
  /** Called after each chunk held (`done` of `total` bytes) and once when complete. */
  onProgress?: (done: number, total: number, provider: Provider) => void;
  /** Called after each failed provider. */
  onProviderError?: (provider: Provider, err: NetError) => void;
}

/** Fetches and decodes the manifest of `sha256Hex` from one provider. */
export async function fetchManifest(
  node: ProtocolDialer,
  provider: Provider,
  sha256Hex: string,
  options: DownloadOptions = {},
): Promise<ContentManifest> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  const maxBody = 8 + chunkCount(maxBytes) * HASH_BYTES;
  return await requestResponse(node, provider, {
    protocol: CONTENT_PROTOCOL,
    request: encodeContentRequest(ContentKind.MANIFEST, sha256Hex, 0),
    what: `manifest of ${sha256Hex.slice(0, 16)}… from ${describeProvider(provider)}`,
    timeoutMs: options.timeoutMs ?? 60_000,
    signal: options.signal,
    maxBody,
    maxBuffered: maxBody + 1024,
    bodyName: "manifest",
    rejectTrailing: true,
    statusError: fetchStatusError,
    decode: (body) => {
      if (body.length < 8) throw new NetError("protocol", `manifest of ${body.length} bytes`);
      const size = Number(new DataView(body.buffer, body.byteOffset, 8).getBigUint64(0));
      if (size > maxBytes) {
        throw new NetError("too_large", `file of ${size} bytes, at most ${maxBytes} accepted`);
      }
      if (options.expectedBytes !== undefined && size !== options.expectedBytes) {
        throw new NetError(
          "hash_mismatch",
          `file of ${size} bytes, the genesis says ${options.expectedBytes}`,
        );
      }
      const n = chunkCount(size);
      if (body.length !== 8 + n * HASH_BYTES) {
        throw new NetError("protocol", `manifest of ${body.length} bytes for ${n} chunks`);
      }
      const chunks = Array.from(
        { length: n },
        (_, i) => body.slice(8 + i * HASH_BYTES, 8 + (i + 1) * HASH_BYTES),
      );
      return { size, chunks };
    },
  });
}

/** Fetches chunk `index` of `sha256Hex` from one provider and checks it against `manifest`. */
export async function fetchChunk(
  node: ProtocolDialer,
  provider: Provider,
  sha256Hex: string,
  manifest: ContentManifest,
  index: number,
  options: DownloadOptions = {},
): Promise<Uint8Array> {
  const want = Math.min(CONTENT_CHUNK_BYTES, manifest.size - index * CONTENT_CHUNK_BYTES);
  return await requestResponse(node, provider, {
    protocol: CONTENT_PROTOCOL,
    request: encodeContentRequest(ContentKind.CHUNK, sha256Hex, index),
    what: `chunk ${index} of ${sha256Hex.slice(0, 16)}… from ${describeProvider(provider)}`,
    timeoutMs: options.timeoutMs ?? 60_000,
    signal: options.signal,
    maxBody: want,
    maxBuffered: want + 1024,
    bodyName: "chunk",
    rejectTrailing: true,
    statusError: fetchStatusError,
    decode: async (bytes) => {
      if (bytes.length !== want) {
        throw new NetError("protocol", `chunk of ${bytes.length} bytes, expected ${want}`);
      }
      if (!bytesEqual(await sha256(bytes), manifest.chunks[index])) {
        throw new NetError("hash_mismatch", `chunk ${index} does not match the manifest`);
      }
      return bytes;
    },
  });
}

/**
 * Downloads the file with SHA-256 `sha256Hex` into `partial`, trying `providers` in order:
 * each continues from the chunks already held that match its manifest, and the whole is
 * checked before `partial.complete()`. Throws `unavailable` (the per-provider errors in
 * `cause`) when none delivers, or `aborted`.
 */
export async function downloadContent(
  node: ProtocolDialer,
  providers: readonly Provider[],
  sha256Hex: string,
  partial: PartialContent,
  options: DownloadOptions = {},
): Promise<void> {
  await tryProviders(
    providers,
    `file ${sha256Hex.slice(0, 16)}…`,
    (provider) => downloadFrom(node, provider, sha256Hex, partial, options),
    options,
  );
}

async function downloadFrom(
  node: ProtocolDialer,
  provider: Provider,
  sha256Hex: string,
  partial: PartialContent,
  options: DownloadOptions,
): Promise<void> {
  const manifest = await fetchManifest(node, provider, sha256Hex, options);
  const n = manifest.chunks.length;
  // Keep the held chunks this manifest vouches for, up to the first that it does not.
  const held = Math.min(await partial.length(), manifest.size);
  let next = 0;
  while (next < n) {
    const off = next * CONTENT_CHUNK_BYTES;
    const len = Math.min(CONTENT_CHUNK_BYTES, manifest.size - off);
    if (off + len > held) break;
    if (!bytesEqual(await sha256(await partial.read(off, len)), manifest.chunks[next])) break;
    next++;
  }
  await partial.truncate(Math.min(next * CONTENT_CHUNK_BYTES, manifest.size));
  for (let i = next; i < n; i++) {
    await partial.append(await fetchChunk(node, provider, sha256Hex, manifest, i, options));
    options.onProgress?.(
      Math.min((i + 1) * CONTENT_CHUNK_BYTES, manifest.size),
      manifest.size,
      provider,
    );
  }
  const got = hex(await sha256(await partial.read(0, manifest.size)));
  if (got !== sha256Hex) {
    // The manifest lied; the next provider re-checks every held chunk against its own.
    throw new NetError(
      "hash_mismatch",
      `the file from ${describeProvider(provider)} hashes to ${got}`,
    );
  }
  await partial.complete();
  if (next === n) options.onProgress?.(manifest.size, manifest.size, provider);
}

/** Options of {@linkcode contentService}. */
export interface ContentServiceInit extends ContentServerOptions {
  /** What is served from the start (default: nothing until `setSource`). */
  source?: ContentSource | null;
}

/**
 * The content protocol as a libp2p service: serves its source and downloads through the
 * node's connection manager.
 */
export class ContentService extends ProtocolService<ContentServer> {
  /** A service over libp2p `components` (use {@linkcode contentService} in a libp2p config). */
  constructor(components: ServiceComponents, init: ContentServiceInit = {}) {
    super(components, CONTENT_PROTOCOL, new ContentServer(init.source ?? null, init), 16);
  }

  /** Changes what is served. */
  setSource(source: ContentSource | null): void {
    this.server.setSource(source);
  }

  /** {@linkcode downloadContent} through this node. */
  download(
    providers: readonly Provider[],
    sha256Hex: string,
    partial: PartialContent,
    options?: DownloadOptions,
  ): Promise<void> {
    return downloadContent(this.dialer, providers, sha256Hex, partial, options);
  }
}

/** A libp2p service factory for {@linkcode ContentService} (`services: { content: … }`). */
export function contentService(
  init: ContentServiceInit = {},
): (components: ServiceComponents) => ContentService {
  return (components) => new ContentService(components, init);
}
