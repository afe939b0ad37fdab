import { assert, assertEquals } from "../testing/assert.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { Rng } from "../util/rng.ts";
import type { NetError } from "./errors.ts";
import {
  CONTENT_CHUNK_BYTES,
  ContentKind,
  type ContentSource,
  ContentStatus,
  encodeContentRequest,
  type PartialContent,
} from "./content_protocol.ts";
import { CONTENT_PROTOCOL } from "./protocols.ts";
import type { WeblocoNode } from "./node.ts";
import { assertRejectsCode, nodeTest, rawExchange, tcpAddr } from "./_test_utils.ts";

/** Seeded bytes: the same file in every run. */
function fileBytes(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.u32() & 0xff;
  return out;
}

/**
 * Serves files from memory; `corruptAt` flips the byte at that offset in every read, `failChunk`
 * fails the second read of that chunk once (the first is the manifest's).
 */
function memorySource(
  files: Uint8Array[],
  o: { corruptAt?: number; failChunk?: number } = {},
): Promise<ContentSource & { reads: number[] }> {
  return Promise.all(files.map(async (f) => [hex(await sha256(f)), f] as const)).then((e) => {
    const byHash = new Map(e);
    let fail = o.failChunk;
    const reads: number[] = [];
    return {
      reads,
      size: (h) => Promise.resolve(byHash.get(h)?.length),
      read(h, offset, length) {
        if (fail !== undefined && offset === fail * CONTENT_CHUNK_BYTES && reads.includes(offset)) {
          fail = undefined; // a cut: this one read fails, the next succeeds
          return Promise.reject(new Error("disk cut"));
        }
        reads.push(offset);
        const bytes = byHash.get(h)!.slice(offset, offset + length);
        const at = o.corruptAt;
        if (at !== undefined && at >= offset && at < offset + length) bytes[at - offset] ^= 1;
        return Promise.resolve(bytes);
      },
    };
  });
}

/** A partial download in memory. */
function memoryPartial(): PartialContent & { bytes: () => Uint8Array; done: boolean } {
  let held = new Uint8Array(0);
  const p = {
    done: false,
    bytes: () => held,
    length: () => Promise.resolve(held.length),
    read: (off: number, len: number) => Promise.resolve(held.slice(off, off + len)),
    append(b: Uint8Array) {
      const next = new Uint8Array(held.length + b.length);
      next.set(held);
      next.set(b, held.length);
      held = next;
      return Promise.resolve();
    },
    truncate(n: number) {
      held = held.slice(0, n);
      return Promise.resolve();
    },
    complete() {
      p.done = true;
      return Promise.resolve();
    },
  };
  return p;
}

function serve(node: WeblocoNode, source: ContentSource): void {
  node.libp2p.services.content.setSource(source);
}

const SIZE = 2 * CONTENT_CHUNK_BYTES + 12_345;

nodeTest("content protocol downloads a file in chunks with progress", [{}, {}], async ([a, b]) => {
  const file = fileBytes(SIZE, 1);
  const sha = hex(await sha256(file));
  serve(a, await memorySource([file]));
  const partial = memoryPartial();
  const progress: number[] = [];
  await b.libp2p.services.content.download([tcpAddr(a)], sha, partial, {
    onProgress: (done, total) => {
      assertEquals(total, SIZE);
      progress.push(done);
    },
  });
  assert(partial.done, "completed");
  assertEquals(hex(await sha256(partial.bytes())), sha);
  assertEquals(progress, [CONTENT_CHUNK_BYTES, 2 * CONTENT_CHUNK_BYTES, SIZE]);
  const stats = a.libp2p.services.content.server.stats;
  assertEquals([stats.manifests, stats.chunks], [1, 3]);
});

nodeTest("content protocol resumes from a partial file after a cut", [{}, {}], async ([a, b]) => {
  const file = fileBytes(SIZE, 2);
  const sha = hex(await sha256(file));
  // The source fails once on the last chunk, after the manifest read it: a cut mid-download.
  serve(a, await memorySource([file], { failChunk: 2 }));
  const partial = memoryPartial();
  const err = await assertRejectsCode(
    b.libp2p.services.content.download([tcpAddr(a)], sha, partial),
    "unavailable",
  );
  assert(/chunk 2/.test(err.message), err.message);
  assertEquals([await partial.length(), partial.done], [2 * CONTENT_CHUNK_BYTES, false]);
  // A damaged tail (a crash mid-append) is cut back to the last chunk the manifest vouches for.
  await partial.truncate(CONTENT_CHUNK_BYTES + 100);
  const chunksBefore = a.libp2p.services.content.server.stats.chunks;
  await b.libp2p.services.content.download([tcpAddr(a)], sha, partial);
  assert(partial.done, "completed");
  assertEquals(hex(await sha256(partial.bytes())), sha);
  assertEquals(a.libp2p.services.content.server.stats.chunks - chunksBefore, 2);
});

nodeTest(
  "content protocol refuses a node serving corrupted bytes and uses another source",
  [{}, {}, {}],
  async ([good, bad, b]) => {
    const file = fileBytes(SIZE, 3);
    const sha = hex(await sha256(file));
    serve(good, await memorySource([file]));
    // Its manifest matches its (corrupted) chunks: only the whole-file check can catch it.
    serve(bad, await memorySource([file], { corruptAt: CONTENT_CHUNK_BYTES + 5 }));
    const partial = memoryPartial();
    const failed: NetError[] = [];
    await b.libp2p.services.content.download([tcpAddr(bad), tcpAddr(good)], sha, partial, {
      onProviderError: (_p, e) => failed.push(e),
    });
    assertEquals(failed.map((e) => e.code), ["hash_mismatch"]);
    assertEquals(hex(await sha256(partial.bytes())), sha);
    // The good source resent only from the spoiled chunk on.
    assertEquals(good.libp2p.services.content.server.stats.chunks, 2);
    // Alone, the bad source is refused.
    const again = memoryPartial();
    await assertRejectsCode(
      b.libp2p.services.content.download([tcpAddr(bad)], sha, again),
      "unavailable",
    );
    assert(!again.done, "a corrupted file is never completed");
  },
);

nodeTest(
  "content protocol refuses oversized and malformed requests",
  [{ content: { maxContentBytes: 2 * CONTENT_CHUNK_BYTES } }, {}],
  async ([a, b]) => {
    const small = fileBytes(1000, 4), big = fileBytes(SIZE, 5);
    const smallSha = hex(await sha256(small)), bigSha = hex(await sha256(big));
    serve(a, await memorySource([small, big]));
    const ask = (bytes: Uint8Array) => rawExchange(b, a, CONTENT_PROTOCOL, bytes);
    assertEquals((await ask(Uint8Array.of(5, 1, 2, 3, 4, 5))).status, ContentStatus.BAD_REQUEST);
    const badKind = encodeContentRequest(ContentKind.CHUNK, smallSha, 0);
    badKind[1] = 9;
    assertEquals((await ask(badKind)).status, ContentStatus.BAD_REQUEST);
    const past = await ask(encodeContentRequest(ContentKind.CHUNK, smallSha, 1));
    assertEquals([past.status, past.text], [
      ContentStatus.BAD_REQUEST,
      "chunk 1 of a file of 1 chunks",
    ]);
    const tooBig = await ask(encodeContentRequest(ContentKind.MANIFEST, bigSha, 0));
    assertEquals(tooBig.status, ContentStatus.TOO_LARGE);
    const missing = await ask(encodeContentRequest(ContentKind.MANIFEST, "ab".repeat(32), 0));
    assertEquals([missing.status, missing.text], [ContentStatus.NOT_FOUND, "not found"]);
    // The client refuses a file above its own limit before any chunk, and a length the genesis
    // does not declare.
    const svc = b.libp2p.services.content;
    await assertRejectsCode(
      svc.download([tcpAddr(a)], smallSha, memoryPartial(), { maxBytes: 999 }),
      "unavailable",
    );
    const err = await assertRejectsCode(
      svc.download([tcpAddr(a)], smallSha, memoryPartial(), { expectedBytes: 1001 }),
      "unavailable",
    );
    assert(err.message.includes("the genesis says 1001"), err.message);
    assertEquals(a.libp2p.services.content.server.stats.chunks, 0);
    const partial = memoryPartial();
    await svc.download([tcpAddr(a)], smallSha, partial, { expectedBytes: 1000 });
    assertEquals(partial.bytes(), small);
  },
);
