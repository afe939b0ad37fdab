import { assert, assertEquals } from "../optim/sparseloco/_assert.ts";
import type { Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import type { NetError } from "./errors.ts";
import type { WeblocoNode } from "./node.ts";
import {
  encodeRequest,
  encodeResponseHeader,
  fetchFromAny,
  fetchPayload,
  PayloadStatus,
  type Provider,
} from "./payload_protocol.ts";
import { PayloadStore, sha256, toHex } from "./payload_store.ts";
import { PAYLOAD_PROTOCOL } from "./protocols.ts";
import { deadline, StreamReader } from "./stream_io.ts";
import {
  assertRejectsCode,
  LIBP2P_TEST,
  sleep,
  tcpAddr,
  waitFor,
  withNodes,
  withTimeout,
  wsAddr,
} from "./_test_utils.ts";

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

/** Sends raw bytes on a payload stream and reads what comes back (status, reason, reset). */
async function rawExchange(
  from: WeblocoNode,
  to: WeblocoNode,
  bytes: Uint8Array,
  opts: { close?: boolean; waitMs?: number } = {},
): Promise<{ status: number | null; text: string; error?: string }> {
  const stream = await from.libp2p.dialProtocol(multiaddr(tcpAddr(to)), PAYLOAD_PROTOCOL);
  const reader = new StreamReader(stream, { maxBuffered: 1 << 20 });
  const dl = deadline(opts.waitMs ?? 5_000, "raw exchange");
  try {
    if (bytes.length > 0) stream.send(bytes);
    if (opts.close !== false) await stream.close();
    const status = await reader.readByteOrEnd(dl.signal);
    if (status === null) return { status: null, text: "" };
    const len = await reader.readUvarint(7, dl.signal);
    const text = new TextDecoder().decode(await reader.readExactly(Math.min(len, 1024), dl.signal));
    return { status, text };
  } catch (err) {
    return { status: null, text: "", error: err instanceof Error ? err.message : String(err) };
  } finally {
    dl.clear();
    reader.dispose();
    stream.abort(new Error("done"));
  }
}

/** Replaces a node's payload handler with `handler` (a misbehaving provider). */
async function mountLiar(node: WeblocoNode, handler: (stream: Stream) => Promise<void>) {
  await node.libp2p.unhandle(PAYLOAD_PROTOCOL);
  await node.libp2p.handle(PAYLOAD_PROTOCOL, async (stream) => {
    try {
      await handler(stream);
    } catch {
      stream.abort(new Error("liar failed"));
    }
  });
}

/** Reads the 33-byte request off a stream (the liar's side). */
async function readRequest(stream: Stream): Promise<Uint8Array> {
  const reader = new StreamReader(stream, { maxBuffered: 1024 });
  const dl = deadline(5_000, "read request");
  try {
    return await reader.readExactly(33, dl.signal);
  } finally {
    dl.clear();
    reader.dispose();
  }
}

Deno.test({
  name: "payload protocol fetches by hash from a node that is not the author",
  ...LIBP2P_TEST,
  fn: () =>
    withTimeout(30_000, "test", () =>
      withNodes([{}, {}, {}], async ([a, b, c]) => {
        const data = randomBytes(3 * 1024 * 1024 + 17);
        const hash = await a.store.add(data);
        // b fetches from the author a over TCP and stores it.
        const t0 = performance.now();
        const atB = await b.fetch(hash, [tcpAddr(a)]);
        const ms = performance.now() - t0;
        assertEquals(toHex(await sha256(atB)), hash);
        assert(b.store.has(hash), "b stored it");
        // c fetches from b (not the author), over WebSockets, with b's peer id known by then.
        const atC = await c.fetch(hash, [wsAddr(b)]);
        assertEquals(atC.length, data.length);
        assertEquals(toHex(await sha256(atC)), hash);
        assertEquals(a.libp2p.services.payload.server.stats.served, 1);
        assertEquals(b.libp2p.services.payload.server.stats.served, 1);
        // Held payloads are not fetched again.
        assertEquals(await c.fetch(hash, []), atC);
        console.log(`3 MiB over loopback TCP in ${ms.toFixed(0)} ms`);
      })),
});

Deno.test({
  name: "payload protocol answers not-found and fetchFromAny tries the next provider",
  ...LIBP2P_TEST,
  fn: () =>
    withTimeout(30_000, "test", () =>
      withNodes([{}, {}, {}], async ([a, b, c]) => {
        const data = randomBytes(1000);
        const hash = await b.store.add(data);
        const unknown = toHex(randomBytes(32));
        await assertRejectsCode(c.fetchFrom(tcpAddr(a), unknown), "not_found");
        const err = await assertRejectsCode(
          c.fetch(unknown, [tcpAddr(a), tcpAddr(b)]),
          "unavailable",
        );
        const causes = (err.cause as AggregateError).errors as NetError[];
        assertEquals(causes.map((e) => e.code), ["not_found", "not_found"]);
        const failed: string[] = [];
        const got = await fetchFromAny(c.libp2p, [tcpAddr(a), tcpAddr(b)], hash, {
          onProviderError: (_p, e) => void failed.push(e.code),
        });
        assertEquals(got.bytes, data);
        assertEquals(got.provider, tcpAddr(b));
        assertEquals(failed, ["not_found"]);
        // A bad provider string or hash is the caller's error, not a crash.
        await assertRejectsCode(c.fetchFrom("not a peer", hash), "invalid_argument");
        await assertRejectsCode(c.fetchFrom(tcpAddr(b), "abc"), "invalid_argument");
        assertEquals(a.libp2p.services.payload.server.stats.notFound, 3);
      })),
});

Deno.test({
  name: "payload protocol refuses oversized payloads on both sides",
  ...LIBP2P_TEST,
  fn: () =>
    withTimeout(30_000, "test", () =>
      withNodes([
        {},
        { store: new PayloadStore(), payload: { maxPayloadBytes: 1000 } },
      ], async ([a, b]) => {
        const data = randomBytes(200_000);
        const hashA = await a.store.add(data);
        // The client refuses a longer answer than it accepts, from the header alone.
        await assertRejectsCode(b.fetchFrom(tcpAddr(a), hashA, { maxBytes: 100_000 }), "too_large");
        await assertRejectsCode(b.fetch(hashA, [tcpAddr(a)], { maxBytes: 100_000 }), "unavailable");
        assertEquals(b.store.has(hashA), false);
        // The server refuses to send more than its own limit.
        const hashB = await b.store.add(data);
        await assertRejectsCode(a.fetchFrom(tcpAddr(b), hashB), "too_large");
        // Within the limits it works.
        assertEquals((await b.fetchFrom(tcpAddr(a), hashA, { maxBytes: 200_000 })).length, 200_000);
      })),
});

Deno.test({
  name: "payload protocol detects lying providers",
  ...LIBP2P_TEST,
  fn: () =>
    withTimeout(30_000, "test", () =>
      withNodes([{}, {}, {}], async ([liar, honest, client]) => {
        const data = randomBytes(5000);
        const hash = await honest.store.add(data);
        const ways: Record<string, (s: Stream) => Promise<void>> = {
          // right length, wrong bytes
          wrong: async (s) => {
            await readRequest(s);
            s.send(encodeResponseHeader(PayloadStatus.OK, data.length));
            s.send(randomBytes(data.length));
            await s.close();
          },
          // announces 1 GiB, then trickles: refused on the header
          huge: async (s) => {
            await readRequest(s);
            s.send(encodeResponseHeader(PayloadStatus.OK, 1 << 30));
            for (let i = 0; i < 50 && s.status === "open"; i++) {
              s.send(new Uint8Array(1000));
              await sleep(100);
            }
          },
          // body cut short
          short: async (s) => {
            await readRequest(s);
            s.send(encodeResponseHeader(PayloadStatus.OK, data.length));
            s.send(data.subarray(0, 100));
            await s.close();
          },
          // never answers
          silent: async (s) => {
            await readRequest(s);
            await sleep(3_000);
          },
          // unknown status
          status: async (s) => {
            await readRequest(s);
            s.send(encodeResponseHeader(9, 0));
            await s.close();
          },
          // an error reason far too long
          reason: async (s) => {
            await readRequest(s);
            s.send(encodeResponseHeader(PayloadStatus.NOT_FOUND, 100_000));
            await s.close();
          },
          // closes at once
          eof: async (s) => {
            await s.close();
          },
        };
        const expect: Record<string, string> = {
          wrong: "hash_mismatch",
          huge: "too_large",
          short: "protocol",
          silent: "timeout",
          status: "protocol",
          reason: "protocol",
          eof: "protocol",
        };
        for (const [name, handler] of Object.entries(ways)) {
          await mountLiar(liar, handler);
          const t0 = performance.now();
          await assertRejectsCode(
            client.fetchFrom(tcpAddr(liar), hash, { maxBytes: 1 << 20, timeoutMs: 1_000 }),
            expect[name] as NetError["code"],
            name,
          );
          assert(performance.now() - t0 < 2_000, `${name} took ${performance.now() - t0} ms`);
        }
        // fetchFromAny moves past the liar to an honest provider and reports the liar.
        await mountLiar(liar, ways.wrong);
        const reported: [Provider, string][] = [];
        const got = await client.fetch(hash, [tcpAddr(liar), tcpAddr(honest)], {
          onProviderError: (p, e) => void reported.push([p, e.code]),
        });
        assertEquals(got, data);
        assertEquals(reported, [[tcpAddr(liar), "hash_mismatch"]]);
      })),
});

Deno.test({
  name: "payload protocol server survives malformed requests",
  ...LIBP2P_TEST,
  fn: () =>
    withTimeout(
      30_000,
      "test",
      () =>
        withNodes([{ payload: { requestTimeoutMs: 500 } }, {}], async ([server, client]) => {
          const data = randomBytes(10_000);
          const hash = await server.store.add(data);
          const cases: [string, Uint8Array, boolean][] = [
            ["empty", new Uint8Array(0), true],
            ["wrong length", new Uint8Array([5, 1, 2, 3, 4, 5]), true],
            ["overlong varint", new Uint8Array([0xff, 0xff, 0xff, 0xff]), true],
            ["zero length", new Uint8Array([0]), true],
            ["truncated hash", new Uint8Array([32, 1, 2, 3]), true],
            ["partial, then silence", new Uint8Array([32, 1, 2, 3]), false],
            ["1 MiB of junk", randomBytes(1 << 20), true],
            [
              "request plus trailing junk",
              new Uint8Array([...encodeRequest(hash), ...randomBytes(5000)]),
              true,
            ],
          ];
          const results: Record<string, unknown> = {};
          for (const [name, bytes, close] of cases) {
            const r = await rawExchange(client, server, bytes, { close, waitMs: 3_000 });
            results[name] = r.status;
            // Junk beyond the request overflows the server's small read buffer: a reset.
            const allowed: (number | null)[] = name === "partial, then silence"
              ? [null]
              : name === "1 MiB of junk" || name === "request plus trailing junk"
              ? [null, PayloadStatus.BAD_REQUEST]
              : [PayloadStatus.BAD_REQUEST];
            assert(allowed.includes(r.status), `${name}: ${JSON.stringify(r)}`);
          }
          // Still serving, with nothing left in flight.
          assertEquals(await client.fetchFrom(tcpAddr(server), hash), data);
          await waitFor(
            () => server.libp2p.services.payload.server.active === 0,
            3_000,
            "no requests in flight",
          );
          console.log("malformed request outcomes:", JSON.stringify(results));
        }),
    ),
});

Deno.test({
  name: "payload protocol limits concurrent requests per peer",
  ...LIBP2P_TEST,
  fn: () =>
    withTimeout(30_000, "test", () =>
      withNodes([
        { payload: { maxConcurrentPerPeer: 2, requestTimeoutMs: 1_000 } },
        {},
        {},
      ], async ([server, greedy, other]) => {
        const data = randomBytes(1000);
        const hash = await server.store.add(data);
        // Two silent streams hold greedy's two slots.
        const silent: Stream[] = [];
        for (let i = 0; i < 2; i++) {
          silent.push(
            await greedy.libp2p.dialProtocol(multiaddr(tcpAddr(server)), PAYLOAD_PROTOCOL),
          );
        }
        await waitFor(
          () => server.libp2p.services.payload.server.active === 2,
          3_000,
          "two slots held",
        );
        await assertRejectsCode(greedy.fetchFrom(tcpAddr(server), hash), "busy");
        // Another peer is not affected.
        assertEquals(await other.fetchFrom(tcpAddr(server), hash), data);
        // The silent streams time out and free the slots.
        await waitFor(
          () => server.libp2p.services.payload.server.active === 0,
          5_000,
          "slots freed",
        );
        assertEquals(await greedy.fetchFrom(tcpAddr(server), hash), data);
        assertEquals(server.libp2p.services.payload.server.stats.busy, 1);
        for (const s of silent) s.abort(new Error("done"));
      })),
});

Deno.test({
  name: "payload protocol client honours its abort signal",
  ...LIBP2P_TEST,
  fn: () =>
    withTimeout(30_000, "test", () =>
      withNodes([{}, {}], async ([liar, client]) => {
        await mountLiar(liar, async (s) => {
          await readRequest(s);
          await sleep(2_000);
        });
        const controller = new AbortController();
        setTimeout(() => controller.abort(new Error("user gave up")), 200);
        const hash = toHex(randomBytes(32));
        await assertRejectsCode(
          fetchPayload(client.libp2p, tcpAddr(liar), hash, { signal: controller.signal }),
          "aborted",
        );
        await assertRejectsCode(
          fetchFromAny(client.libp2p, [tcpAddr(liar), tcpAddr(liar)], hash, {
            signal: controller.signal,
          }),
          "aborted",
        );
      })),
});
