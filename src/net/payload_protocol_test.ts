import { assert, assertEquals } from "../testing/assert.ts";
import type { Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import type { NetError } from "./errors.ts";
import {
  encodeRequest,
  encodeResponseHeader,
  fetchFromAny,
  fetchPayload,
  PayloadStatus,
  type Provider,
} from "./payload_protocol.ts";
import { PayloadStore } from "./payload_store.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { PAYLOAD_PROTOCOL } from "./protocols.ts";
import {
  assertRejectsCode,
  mountLiar,
  nodeTest,
  rawExchange,
  readRequestBytes,
  sleep,
  tcpAddr,
  waitFor,
  wsAddr,
} from "./_test_utils.ts";

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

/** Reads the 33-byte request off a stream (the liar's side). */
function readRequest(stream: Stream): Promise<Uint8Array> {
  return readRequestBytes(stream, 33);
}

nodeTest(
  "payload protocol fetches by hash from a node that is not the author",
  [{}, {}, {}],
  async ([a, b, c]) => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const hash = await a.store.add(data);
    // b fetches from the author a over TCP and stores it.
    const t0 = performance.now();
    const atB = await b.fetch(hash, [tcpAddr(a)]);
    const ms = performance.now() - t0;
    assertEquals(hex(await sha256(atB)), hash);
    assert(b.store.has(hash), "b stored it");
    // c fetches from b (not the author), over WebSockets, with b's peer id known by then.
    const atC = await c.fetch(hash, [wsAddr(b)]);
    assertEquals(atC.length, data.length);
    assertEquals(hex(await sha256(atC)), hash);
    assertEquals(a.libp2p.services.payload.server.stats.served, 1);
    assertEquals(b.libp2p.services.payload.server.stats.served, 1);
    // Held payloads are not fetched again.
    assertEquals(await c.fetch(hash, []), atC);
    console.log(`3 MiB over loopback TCP in ${ms.toFixed(0)} ms`);
  },
);

nodeTest("payload protocol answers not-found and fetchFromAny tries the next provider", [
  {},
  {},
  {},
], async ([a, b, c]) => {
  const data = randomBytes(1000);
  const hash = await b.store.add(data);
  const unknown = hex(randomBytes(32));
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
});

nodeTest("payload protocol refuses oversized payloads on both sides", [
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
});

nodeTest(
  "payload protocol detects lying providers",
  [{}, {}, {}],
  async ([liar, honest, client]) => {
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
      await mountLiar(liar, PAYLOAD_PROTOCOL, handler);
      const t0 = performance.now();
      await assertRejectsCode(
        client.fetchFrom(tcpAddr(liar), hash, { maxBytes: 1 << 20, timeoutMs: 1_000 }),
        expect[name] as NetError["code"],
        name,
      );
      assert(performance.now() - t0 < 2_000, `${name} took ${performance.now() - t0} ms`);
    }
    // fetchFromAny moves past the liar to an honest provider and reports the liar.
    await mountLiar(liar, PAYLOAD_PROTOCOL, ways.wrong);
    const reported: [Provider, string][] = [];
    const got = await client.fetch(hash, [tcpAddr(liar), tcpAddr(honest)], {
      onProviderError: (p, e) => void reported.push([p, e.code]),
    });
    assertEquals(got, data);
    assertEquals(reported, [[tcpAddr(liar), "hash_mismatch"]]);
  },
);

nodeTest("payload protocol server survives malformed requests", [{
  payload: { requestTimeoutMs: 500 },
}, {}], async ([server, client]) => {
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
    const r = await rawExchange(client, server, PAYLOAD_PROTOCOL, bytes, { close, waitMs: 3_000 });
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
});

nodeTest("payload protocol limits concurrent requests per peer", [
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
});

nodeTest("payload protocol client honours its abort signal", [{}, {}], async ([liar, client]) => {
  await mountLiar(liar, PAYLOAD_PROTOCOL, async (s) => {
    await readRequest(s);
    await sleep(2_000);
  });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error("user gave up")), 200);
  const hash = hex(randomBytes(32));
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
});
