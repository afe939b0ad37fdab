import { assert, assertEquals } from "../testing/assert.ts";
import type { Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import type { NetErrorCode } from "./errors.ts";
import { SYNC_PROTOCOL } from "./protocols.ts";
import { encodeUvarint } from "./stream_io.ts";
import {
  decodeSyncRequest,
  decodeSyncResponse,
  DEFAULT_MAX_RECORD_BYTES,
  encodeSyncError,
  encodeSyncRequest,
  encodeSyncResponse,
  MAX_SYNC_RECORDS,
  maxSyncBodyBytes,
  SYNC_REQUEST_BYTES,
  type SyncCheckpoint,
  type SyncResponse,
  type SyncSource,
  SyncStatus,
} from "./sync_protocol.ts";
import {
  assertRejectsCode,
  LIBP2P_TEST,
  mountLiar,
  nodeTest,
  rawExchange,
  readRequestBytes,
  sleep,
  tcpAddr,
  waitFor,
  withNodes,
  withTimeout,
  wsAddr,
} from "./_test_utils.ts";

const CHECKPOINT: SyncCheckpoint = { window: 250, hash: "ab".repeat(32), size: 123_456_789 };

/** A fake signed record of `window`: "R", u32 window, then filler. */
function record(window: number, filler = 40): Uint8Array {
  const out = new Uint8Array(5 + filler).fill(window & 0xff);
  out[0] = 0x52;
  new DataView(out.buffer).setUint32(1, window);
  return out;
}

function windowOf(r: Uint8Array): number {
  return new DataView(r.buffer, r.byteOffset, r.byteLength).getUint32(1);
}

/** A source of records for `windows`, with `checkpoint`. */
function fakeSource(windows: number[], checkpoint: SyncCheckpoint | null = CHECKPOINT) {
  const calls: [number, number][] = [];
  const source: SyncSource = {
    records(from, max) {
      calls.push([from, max]);
      return windows.filter((w) => w >= from).slice(0, max).map((w) => record(w));
    },
    checkpoint: () => Promise.resolve(checkpoint),
  };
  return { source, calls };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function expectThrowCode(fn: () => unknown, code: NetErrorCode, what: string): void {
  try {
    fn();
  } catch (err) {
    const c = (err as { code?: string }).code;
    assertEquals(c, code, `${what}: ${err instanceof Error ? err.message : String(err)}`);
    assert(!(err as Error).message.includes("\n"), `${what}: one-line message`);
    return;
  }
  throw new Error(`${what}: expected NetError ${code}, but it returned`);
}

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => p instanceof Uint8Array ? p : Uint8Array.from(p));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let off = 0;
  for (const a of arrays) {
    out.set(a, off);
    off += a.length;
  }
  return out;
}

/** An OK response around a hand-made body. */
function okWith(body: Uint8Array): Uint8Array {
  return concat([SyncStatus.OK], encodeUvarint(body.length), body);
}

// ---------------------------------------------------------------- encoding on its own

Deno.test("sync protocol request round-trips and is strict", () => {
  for (const w of [0, 1, 255, 65_536, 0xffff_ffff]) {
    const bytes = encodeSyncRequest(w);
    assertEquals(bytes.length, 5);
    assertEquals(decodeSyncRequest(bytes), w);
  }
  assertEquals(Array.from(encodeSyncRequest(0x01020304)), [1, 1, 2, 3, 4]);
  for (const bad of [-1, 2 ** 32, 1.5, NaN, Infinity, "3" as unknown as number]) {
    expectThrowCode(() => encodeSyncRequest(bad), "invalid_argument", `window ${bad}`);
  }
  expectThrowCode(() => decodeSyncRequest(new Uint8Array(0)), "protocol", "empty");
  expectThrowCode(() => decodeSyncRequest(Uint8Array.of(1, 0, 0, 0)), "protocol", "short");
  expectThrowCode(() => decodeSyncRequest(Uint8Array.of(1, 0, 0, 0, 0, 0)), "protocol", "long");
  expectThrowCode(() => decodeSyncRequest(Uint8Array.of(2, 0, 0, 0, 0)), "protocol", "version");
});

Deno.test("sync protocol response round-trips", () => {
  const cases: SyncResponse[] = [
    { checkpoint: CHECKPOINT, records: range(0, 3).map((w) => record(w)), more: false },
    { checkpoint: null, records: [record(7)], more: true },
    {
      checkpoint: { window: 0xffff_ffff, hash: "00".repeat(32), size: 0 },
      records: [],
      more: false,
    },
    { checkpoint: null, records: [], more: false },
    {
      checkpoint: { window: 0, hash: "0f".repeat(32), size: 2 ** 49 - 1 },
      records: range(0, MAX_SYNC_RECORDS).map((w) => record(w, DEFAULT_MAX_RECORD_BYTES - 5)),
      more: true,
    },
  ];
  for (const r of cases) {
    const bytes = encodeSyncResponse(r);
    const bound = maxSyncBodyBytes();
    assert(bytes.length <= 1 + encodeUvarint(bound).length + bound, "within the body bound");
    assertEquals(decodeSyncResponse(bytes), r);
  }
  // Exact layout of a small one: status, length, flags, checkpoint, count, records.
  const small = encodeSyncResponse({
    checkpoint: { window: 2, hash: "11".repeat(32), size: 300 },
    records: [Uint8Array.of(9, 9)],
    more: true,
  });
  assertEquals(
    Array.from(small),
    [
      0,
      1 + 4 + 32 + 2 + 1 + 3,
      0b11,
      0,
      0,
      0,
      2,
      ...new Array(32).fill(0x11),
      0xac,
      0x02,
      1,
      2,
      9,
      9,
    ],
  );
  // Decoded records are copies, not views on the response.
  const decoded = decodeSyncResponse(small);
  assertEquals(decoded.records[0].byteOffset, 0);
  assertEquals(decoded.records[0].buffer.byteLength, 2);
});

Deno.test("sync protocol encoder refuses what breaks the limits", () => {
  const ok = { checkpoint: null, records: [record(1)], more: false };
  const cps: [string, unknown][] = [
    ["upper-case hash", { ...CHECKPOINT, hash: "AB".repeat(32) }],
    ["short hash", { ...CHECKPOINT, hash: "ab".repeat(31) }],
    ["negative window", { ...CHECKPOINT, window: -1 }],
    ["window over u32", { ...CHECKPOINT, window: 2 ** 32 }],
    ["fractional window", { ...CHECKPOINT, window: 1.5 }],
    ["negative size", { ...CHECKPOINT, size: -1 }],
    ["huge size", { ...CHECKPOINT, size: 2 ** 53 }],
  ];
  for (const [what, cp] of cps) {
    expectThrowCode(
      () => encodeSyncResponse({ ...ok, checkpoint: cp as SyncCheckpoint }),
      "invalid_argument",
      what,
    );
  }
  expectThrowCode(
    () => encodeSyncResponse({ ...ok, records: [new Uint8Array(0)] }),
    "invalid_argument",
    "empty record",
  );
  expectThrowCode(
    () => encodeSyncResponse({ ...ok, records: ["x" as unknown as Uint8Array] }),
    "invalid_argument",
    "record not bytes",
  );
  expectThrowCode(
    () => encodeSyncResponse({ ...ok, records: [new Uint8Array(DEFAULT_MAX_RECORD_BYTES + 1)] }),
    "too_large",
    "record over the limit",
  );
  expectThrowCode(
    () => encodeSyncResponse({ ...ok, records: [record(1, 100)] }, { maxRecordBytes: 50 }),
    "too_large",
    "record over a lowered limit",
  );
  expectThrowCode(
    () =>
      encodeSyncResponse({ ...ok, records: range(0, MAX_SYNC_RECORDS + 1).map((w) => record(w)) }),
    "too_large",
    "too many records",
  );
  expectThrowCode(
    () =>
      encodeSyncResponse({ ...ok, records: range(0, 11).map((w) => record(w)) }, {
        maxRecords: 10,
      }),
    "too_large",
    "more records than a lowered limit",
  );
  expectThrowCode(() => encodeSyncResponse(ok, { maxRecords: 0 }), "invalid_argument", "limit 0");
  expectThrowCode(
    () => encodeSyncResponse(ok, { maxRecords: MAX_SYNC_RECORDS + 1 }),
    "invalid_argument",
    "limit above the protocol's",
  );
  expectThrowCode(() => encodeSyncError(SyncStatus.OK, "x"), "invalid_argument", "error status 0");
});

Deno.test("sync protocol decoder is strict", () => {
  const good = encodeSyncResponse({
    checkpoint: CHECKPOINT,
    records: [record(1), record(2)],
    more: true,
  });
  // Every proper prefix is truncated; one more byte is trailing.
  for (let n = 0; n < good.length; n++) {
    expectThrowCode(() => decodeSyncResponse(good.subarray(0, n)), "protocol", `prefix ${n}`);
  }
  expectThrowCode(() => decodeSyncResponse(concat(good, [0])), "protocol", "trailing byte");
  const cp = concat([0, 0, 0, 1], new Uint8Array(32).fill(0xab), [5]);
  const cases: [string, Uint8Array, NetErrorCode][] = [
    ["unknown flags", okWith(Uint8Array.of(0b100, 0)), "protocol"],
    ["empty body", okWith(new Uint8Array(0)), "protocol"],
    ["hash of 31 bytes", okWith(concat([1, 0, 0, 0, 1], new Uint8Array(31), [5, 0])), "protocol"],
    ["checkpoint cut short", okWith(concat([1], cp.subarray(0, 20))), "protocol"],
    [
      "size varint non-minimal",
      okWith(concat([1], cp.subarray(0, 36), [0x85, 0x00, 0])),
      "protocol",
    ],
    [
      "size varint too long",
      okWith(concat([1], cp.subarray(0, 36), new Array(8).fill(0xff))),
      "protocol",
    ],
    ["no count", okWith(concat([1], cp)), "protocol"],
    [
      "count over the protocol limit",
      okWith(concat([0], encodeUvarint(MAX_SYNC_RECORDS + 1))),
      "protocol",
    ],
    ["count 1000", okWith(concat([0], encodeUvarint(1000), new Array(1000).fill(0))), "protocol"],
    ["count larger than the records", okWith(concat([0, 3], [1, 7], [1, 8])), "protocol"],
    ["count smaller than the records", okWith(concat([0, 1], [1, 7], [1, 8])), "protocol"],
    ["empty record", okWith(concat([0, 1, 0])), "protocol"],
    [
      "record over the limit",
      okWith(concat([0, 1], encodeUvarint(DEFAULT_MAX_RECORD_BYTES + 1))),
      "too_large",
    ],
    ["record length varint too long", okWith(concat([0, 1], new Array(8).fill(0x80))), "protocol"],
    ["body length over the bound", concat([0], encodeUvarint(maxSyncBodyBytes() + 1)), "too_large"],
    ["unknown status", encodeSyncError(9, "what"), "protocol"],
    [
      "reason too long",
      concat([SyncStatus.BUSY], encodeUvarint(300), new Uint8Array(300)),
      "protocol",
    ],
    ["unavailable", encodeSyncError(SyncStatus.UNAVAILABLE, "none"), "unavailable"],
    ["busy", encodeSyncError(SyncStatus.BUSY, "later"), "busy"],
    ["bad request", encodeSyncError(SyncStatus.BAD_REQUEST, "nope"), "bad_request"],
    ["error", encodeSyncError(SyncStatus.ERROR, "boom\nline two"), "remote_error"],
  ];
  for (const [what, bytes, code] of cases) {
    expectThrowCode(() => decodeSyncResponse(bytes), code, what);
  }
  // A lowered record limit on the client side.
  expectThrowCode(
    () =>
      decodeSyncResponse(
        encodeSyncResponse({ checkpoint: null, records: [record(1, 100)], more: false }),
        {
          maxRecordBytes: 50,
        },
      ),
    "too_large",
    "record over a lowered limit",
  );
  // Reasons are cut to 256 bytes.
  assertEquals(encodeSyncError(SyncStatus.ERROR, "x".repeat(1000)).length, 1 + 2 + 256);
});

// ---------------------------------------------------------------- over libp2p

/** Reads the 5-byte request off a stream (the liar's side). */
async function readRequest(stream: Stream): Promise<number> {
  return decodeSyncRequest(await readRequestBytes(stream, SYNC_REQUEST_BYTES));
}

nodeTest(
  "sync protocol serves records in order with the checkpoint, paged by more",
  [{}, {}],
  async ([server, client]) => {
    const windows = range(0, 300);
    const { source, calls } = fakeSource(windows);
    server.setSyncSource(source);
    const first = await client.sync(tcpAddr(server), 0);
    assertEquals(first.checkpoint, CHECKPOINT);
    assertEquals(first.more, true);
    assertEquals(first.records.length, MAX_SYNC_RECORDS);
    assertEquals(first.records.map(windowOf), range(0, MAX_SYNC_RECORDS));
    assertEquals(first.records[3], record(3));
    // The server asks for one more than it sends, to know whether there is more.
    assertEquals(calls[0], [0, MAX_SYNC_RECORDS + 1]);
    // Next page from the last window + 1, over WebSockets this time.
    const next = windowOf(first.records[first.records.length - 1]) + 1;
    const second = await client.sync(wsAddr(server), next);
    assertEquals(second.more, false);
    assertEquals(second.records.map(windowOf), range(MAX_SYNC_RECORDS, 300));
    // fromWindow filters; past the end: no records, still the checkpoint.
    assertEquals((await client.sync(server.peerId, 297)).records.map(windowOf), [
      297,
      298,
      299,
    ]);
    const past = await client.sync(tcpAddr(server), 0xffff_ffff);
    assertEquals(past, { checkpoint: CHECKPOINT, records: [], more: false });
    // Exactly the limit: no more.
    server.setSyncSource(fakeSource(range(0, MAX_SYNC_RECORDS), null).source);
    const exact = await client.sync(tcpAddr(server), 0);
    assertEquals([exact.records.length, exact.more, exact.checkpoint], [
      MAX_SYNC_RECORDS,
      false,
      null,
    ]);
    assertEquals(server.libp2p.services.sync.server.stats.served, 5);
  },
);

nodeTest(
  "sync protocol pages through a lowered record limit",
  [{ sync: { maxRecords: 7 } }, {}],
  async ([server, client]) => {
    // Sparse windows: paging must follow the last window sent, not a count.
    const windows = range(0, 50).map((i) => 10 + 3 * i);
    server.setSyncSource(fakeSource(windows).source);
    const got: number[] = [];
    let from = 0;
    let pages = 0;
    for (;;) {
      const r = await client.sync(tcpAddr(server), from);
      pages++;
      assert(r.records.length <= 7, `page of ${r.records.length}`);
      got.push(...r.records.map(windowOf));
      if (!r.more) break;
      from = windowOf(r.records[r.records.length - 1]) + 1;
    }
    assertEquals(got, windows);
    assertEquals(pages, Math.ceil(50 / 7));
  },
);

nodeTest(
  "sync protocol without a source answers unavailable",
  [{}, {}],
  async ([server, client]) => {
    const err = await assertRejectsCode(client.sync(tcpAddr(server), 0), "unavailable");
    assert(err.message.includes("no history"), err.message);
    server.setSyncSource(fakeSource([1, 2]).source);
    assertEquals((await client.sync(tcpAddr(server), 0)).records.length, 2);
    server.setSyncSource(null);
    await assertRejectsCode(client.sync(tcpAddr(server), 0), "unavailable");
    assertEquals(server.libp2p.services.sync.server.stats.unavailable, 2);
  },
);

Deno.test({
  name: "sync protocol answers error for a failing source and keeps serving",
  ...LIBP2P_TEST,
  fn: () =>
    withTimeout(30_000, "test", () => {
      const logged: string[] = [];
      return withNodes([
        { sync: { responseTimeoutMs: 500, maxRecordBytes: 100 }, log: (l) => logged.push(l) },
        {},
      ], async ([server, client]) => {
        const good = fakeSource(range(0, 5)).source;
        const bad: [string, SyncSource, NetErrorCode][] = [
          ["throws", {
            ...good,
            records: () => {
              throw new Error("disk on fire");
            },
          }, "remote_error"],
          ["rejects", {
            ...good,
            checkpoint: () => Promise.reject(new Error("no checkpoint")),
          }, "remote_error"],
          ["not an array", {
            ...good,
            records: () => "nope" as unknown as Uint8Array[],
          }, "remote_error"],
          ["not bytes", {
            ...good,
            records: () => [1, 2] as unknown as Uint8Array[],
          }, "remote_error"],
          ["record too long", { ...good, records: () => [record(1, 200)] }, "remote_error"],
          [
            "bad checkpoint",
            { ...good, checkpoint: () => ({ window: -1, hash: "x", size: 0 }) },
            "remote_error",
          ],
        ];
        for (const [what, source, code] of bad) {
          server.setSyncSource(source);
          const err = await assertRejectsCode(client.sync(tcpAddr(server), 0), code, what);
          assert(!err.message.includes("\n"), `${what}: one line`);
          // The server still answers the next request.
          server.setSyncSource(good);
          assertEquals((await client.sync(tcpAddr(server), 0)).records.length, 5, what);
        }
        const stats = server.libp2p.services.sync.server.stats;
        assertEquals(stats.errors, bad.length);
        assert(
          logged.some((l) => l.includes("disk on fire")),
          logged.join("\n"),
        );
        // A source that never answers: an error at the response deadline, quickly.
        server.setSyncSource({ ...good, records: () => new Promise(() => {}) });
        const t0 = performance.now();
        const err = await assertRejectsCode(
          client.sync(tcpAddr(server), 0, { timeoutMs: 5_000 }),
          "remote_error",
          "hanging source",
        );
        assert(err.message.includes("timed out"), err.message);
        assert(performance.now() - t0 < 3_000, `hanging source took ${performance.now() - t0} ms`);
        console.log("hanging source:", err.message);
        server.setSyncSource(good);
        assertEquals((await client.sync(tcpAddr(server), 0)).records.length, 5);
        await waitFor(() => server.libp2p.services.sync.server.active === 0, 3_000, "idle");
      });
    }),
});

nodeTest("sync protocol server rejects malformed requests and stays up", [{
  sync: { requestTimeoutMs: 500 },
}, {}], async ([server, client]) => {
  server.setSyncSource(fakeSource(range(0, 3)).source);
  const junk = new Uint8Array(1 << 20).fill(0x5a);
  const cases: [string, Uint8Array, boolean, (number | null)[]][] = [
    ["empty", new Uint8Array(0), true, [SyncStatus.BAD_REQUEST]],
    ["short", Uint8Array.of(1, 0, 0), true, [SyncStatus.BAD_REQUEST]],
    ["wrong version", Uint8Array.of(7, 0, 0, 0, 0), true, [SyncStatus.BAD_REQUEST]],
    ["trailing bytes", Uint8Array.of(1, 0, 0, 0, 0, 0), true, [SyncStatus.BAD_REQUEST]],
    ["partial, then silence", Uint8Array.of(1, 0), false, [null]],
    // Junk beyond the request overflows the server's small read buffer: maybe a reset.
    ["1 MiB of junk", junk, true, [null, SyncStatus.BAD_REQUEST]],
  ];
  const results: Record<string, unknown> = {};
  for (const [name, bytes, close, allowed] of cases) {
    const r = await rawExchange(client, server, SYNC_PROTOCOL, bytes, { close, waitMs: 3_000 });
    results[name] = r.status ?? r.error ?? "end";
    assert(allowed.includes(r.status), `${name}: ${JSON.stringify(r)}`);
  }
  // Still serving, nothing left in flight.
  assertEquals((await client.sync(tcpAddr(server), 0)).records.map(windowOf), [0, 1, 2]);
  await waitFor(() => server.libp2p.services.sync.server.active === 0, 3_000, "idle");
  assert(server.libp2p.services.sync.server.stats.rejected >= 5, "rejections counted");
  console.log("malformed request outcomes:", JSON.stringify(results));
});

nodeTest(
  "sync protocol client refuses malformed, oversized and truncated responses",
  [{}, {}],
  async ([liar, client]) => {
    const answer = (bytes: Uint8Array) => async (s: Stream) => {
      await readRequest(s);
      s.send(bytes);
      await s.close();
    };
    const good = encodeSyncResponse({
      checkpoint: CHECKPOINT,
      records: [record(1)],
      more: false,
    });
    const ways: Record<string, [(s: Stream) => Promise<void>, NetErrorCode]> = {
      "unknown status": [answer(encodeSyncError(9, "?")), "protocol"],
      "reason too long": [
        answer(concat([SyncStatus.BUSY], encodeUvarint(100_000))),
        "protocol",
      ],
      "busy": [answer(encodeSyncError(SyncStatus.BUSY, "later")), "busy"],
      "truncated body": [answer(good.subarray(0, good.length - 3)), "protocol"],
      "trailing bytes": [answer(concat(good, [1, 2, 3])), "protocol"],
      "bad flags": [answer(okWith(Uint8Array.of(0x80, 0))), "protocol"],
      "count over the limit": [
        answer(okWith(concat([0], encodeUvarint(MAX_SYNC_RECORDS + 1)))),
        "protocol",
      ],
      "record over the limit": [
        answer(
          okWith(
            concat(
              [0, 1],
              encodeUvarint(DEFAULT_MAX_RECORD_BYTES + 1),
              new Uint8Array(DEFAULT_MAX_RECORD_BYTES + 1),
            ),
          ),
        ),
        "too_large",
      ],
      // Announces 1 GiB then trickles: refused on the header.
      "huge body": [async (s) => {
        await readRequest(s);
        s.send(concat([SyncStatus.OK], encodeUvarint(1 << 30)));
        for (let i = 0; i < 50 && s.status === "open"; i++) {
          s.send(new Uint8Array(1000));
          await sleep(100);
        }
      }, "too_large"],
      // Floods past the length it announced: trailing bytes.
      "flood": [async (s) => {
        await readRequest(s);
        s.send(concat([SyncStatus.OK], encodeUvarint(maxSyncBodyBytes())));
        // 100 × 256 KiB: well past the bound (256 records of the largest certificate, ≈ 9 MB).
        for (let i = 0; i < 100 && s.status === "open"; i++) {
          s.send(new Uint8Array(256 * 1024));
          await sleep(5);
        }
      }, "protocol"],
      "eof": [async (s) => void await s.close(), "protocol"],
      "reset": [async (s) => {
        await readRequest(s);
        s.abort(new Error("liar hung up"));
      }, "protocol"],
      // Never answers: the client's deadline.
      "silent": [async (s) => {
        await readRequest(s);
        await sleep(3_000);
      }, "timeout"],
    };
    for (const [name, [handler, code]] of Object.entries(ways)) {
      await mountLiar(liar, SYNC_PROTOCOL, handler);
      const t0 = performance.now();
      const err = await assertRejectsCode(
        client.sync(tcpAddr(liar), 0, { timeoutMs: 1_000 }),
        code,
        name,
      );
      const ms = performance.now() - t0;
      assert(ms < 2_000, `${name} took ${ms} ms`);
      assert(!err.message.includes("\n"), `${name}: one line: ${err.message}`);
    }
    // The well-formed answer of the same liar works.
    await mountLiar(liar, SYNC_PROTOCOL, answer(good));
    assertEquals(await client.sync(tcpAddr(liar), 0), decodeSyncResponse(good));
  },
  60_000,
);

nodeTest(
  "sync protocol client times out and honours its abort signal",
  [{}, {}],
  async ([liar, client]) => {
    await mountLiar(liar, SYNC_PROTOCOL, async (s) => {
      await readRequest(s);
      await sleep(2_000);
    });
    const t0 = performance.now();
    await assertRejectsCode(client.sync(tcpAddr(liar), 0, { timeoutMs: 300 }), "timeout");
    assert(performance.now() - t0 < 1_500, "timed out in time");
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("user gave up")), 200);
    await assertRejectsCode(
      client.sync(tcpAddr(liar), 0, { signal: controller.signal }),
      "aborted",
    );
    await assertRejectsCode(client.sync("not a peer", 0), "invalid_argument");
    await assertRejectsCode(client.sync(tcpAddr(liar), -1), "invalid_argument");
  },
);

nodeTest("sync protocol limits concurrent requests per peer", [
  { sync: { maxConcurrentPerPeer: 1, requestTimeoutMs: 1_000 } },
  {},
  {},
], async ([server, greedy, other]) => {
  server.setSyncSource(fakeSource(range(0, 3)).source);
  // A silent stream holds greedy's only slot.
  const silent = await greedy.libp2p.dialProtocol(multiaddr(tcpAddr(server)), SYNC_PROTOCOL);
  await waitFor(() => server.libp2p.services.sync.server.active === 1, 3_000, "slot held");
  await assertRejectsCode(greedy.sync(tcpAddr(server), 0), "busy");
  // Another peer is not affected.
  assertEquals((await other.sync(tcpAddr(server), 0)).records.length, 3);
  // The silent stream times out and frees the slot.
  await waitFor(() => server.libp2p.services.sync.server.active === 0, 5_000, "slot freed");
  assertEquals((await greedy.sync(tcpAddr(server), 0)).records.length, 3);
  assertEquals(server.libp2p.services.sync.server.stats.busy, 1);
  silent.abort(new Error("done"));
});

nodeTest(
  "sync protocol stops with the node, resetting requests in flight",
  [{}, {}],
  async ([server, client]) => {
    assert(server.libp2p.getProtocols().includes(SYNC_PROTOCOL), "protocol mounted");
    server.setSyncSource({ records: () => new Promise(() => {}), checkpoint: () => null });
    // Settled at once into a value: the rejection may come before anyone awaits it.
    const pending = client.sync(tcpAddr(server), 0, { timeoutMs: 10_000 }).then(
      () => Promise.reject(new Error("resolved")),
      (err) => Promise.reject(err),
    );
    pending.catch(() => {});
    await waitFor(() => server.libp2p.services.sync.server.active === 1, 3_000, "in flight");
    const t0 = performance.now();
    await server.stop();
    const err = await assertRejectsCode(pending, "protocol");
    assert(performance.now() - t0 < 3_000, `stop took ${performance.now() - t0} ms`);
    assert(!err.message.includes("\n"), err.message);
    assertEquals(server.libp2p.services.sync.server.active, 0);
  },
);
