import { generateKeyPair } from "@libp2p/crypto/keys";
import { assert, assertEquals } from "../testing/assert.ts";
import { multiaddr } from "@multiformats/multiaddr";
import { MemoryStore } from "../protocol/memory_store.ts";
import { ADDRESS_BOOK_NAME } from "./address_book.ts";
import { createDenoNode } from "./deno_node.ts";
import type { GossipMessage, WeblocoNode } from "./node.ts";
import {
  assertRejectsCode,
  LIBP2P_TEST,
  nodeTest,
  sleep,
  tcpAddr,
  TEST_RUN_ID,
  testValidator,
  waitFor,
  withNodes,
  withTimeout,
  wsAddr,
} from "./_test_utils.ts";

function tcpAddrMa(node: WeblocoNode) {
  return multiaddr(tcpAddr(node));
}

/**
 * Connects b to a and waits until each has the other in its mesh for `topic` (gossipsub
 * forwards only to mesh peers; a message sent before the graft is not replayed).
 */
async function meshUp(a: WeblocoNode, b: WeblocoNode, topic: string, addr = tcpAddr(a)) {
  await b.dial(addr);
  await waitFor(
    () => a.meshPeers(topic).includes(b.peerId) && b.meshPeers(topic).includes(a.peerId),
    10_000,
    "the mesh to form",
  );
}

nodeTest(
  "deno node listens on tcp and ws and delivers gossip both ways",
  [{}, {}, {}],
  async ([a, b, c]) => {
    const topic = a.topics.updates;
    assert(
      a.addresses().some((m) => m.includes("/tcp/") && !m.includes("/ws")),
      "tcp listener",
    );
    assert(a.addresses().some((m) => m.includes("/ws")), "ws listener");
    assert(a.addresses().every((m) => m.includes(`/p2p/${a.peerId}`)), "addresses carry /p2p/");
    const got: Record<string, GossipMessage[]> = { a: [], b: [], c: [] };
    a.subscribe(topic, (m) => void got.a.push(m));
    b.subscribe(topic, (m) => void got.b.push(m));
    c.subscribe(topic, (m) => void got.c.push(m));
    await meshUp(a, b, topic); // b → a over TCP
    await meshUp(a, c, topic, wsAddr(a)); // c → a over WebSockets

    const n = await b.publish(topic, new Uint8Array([1, 2, 3]));
    assert(n >= 1, `published to ${n} peers`);
    await waitFor(
      () => got.a.length === 1 && got.c.length === 1,
      10_000,
      "delivery to a and c",
    );
    assertEquals(got.a[0].data, new Uint8Array([1, 2, 3]));
    assertEquals(got.a[0].from, b.peerId);
    assertEquals(got.c[0].from, b.peerId, "c got it relayed through a, author b");
    await a.publish(topic, new Uint8Array([4]));
    await waitFor(
      () => got.b.length === 1 && got.c.length === 2,
      10_000,
      "delivery to b and c",
    );
    assertEquals(got.b[0].data, new Uint8Array([4]));
    assertEquals(got.b[0].from, a.peerId);
    assertEquals(got.a.length, 1, "no echo to the author");
  },
);

nodeTest(
  "deno node drops rejected gossip and the sender's score falls below 0",
  [{}, {}],
  async ([a, b]) => {
    const topic = a.topics.rounds;
    const got: GossipMessage[] = [];
    a.subscribe(topic, () => {});
    b.subscribe(topic, (m) => void got.push(m));
    await meshUp(a, b, topic);
    assert(b.score(a.peerId) >= 0, `score before: ${b.score(a.peerId)}`);

    await a.publish(topic, new Uint8Array([0xff, 1])); // test validator rejects 0xff…
    await a.publish(topic, new Uint8Array([0xee, 1])); // … ignores 0xee
    await a.publish(topic, new Uint8Array([7])); // accepted
    await waitFor(() => got.length >= 1, 10_000, "the good message");
    await sleep(200);
    assertEquals(got.map((m) => [...m.data]), [[7]], "only the accepted message is delivered");
    await waitFor(
      () => b.score(a.peerId) < 0,
      5_000,
      `score below 0 (now ${b.score(a.peerId)})`,
    );
    assertEquals(a.score(b.peerId) >= 0, true, "the receiver is not penalized");
    assert(b.peers().includes(a.peerId), "still connected, both up");
  },
);

Deno.test({
  name: "deno node rejects oversized gossip and survives a throwing validator",
  ...LIBP2P_TEST,
  fn: () => {
    const reasons: string[] = [];
    return withTimeout(30_000, "test", () =>
      withNodes([{}, {
        gossip: { topicMaxBytes: 1024, onReject: (_t, _from, reason) => void reasons.push(reason) },
      }], async ([a, b]) => {
        const topic = a.topics.peers;
        const got: GossipMessage[] = [];
        a.subscribe(topic, () => {});
        b.subscribe(topic, (m) => void got.push(m));
        await meshUp(a, b, topic);
        // b's limit is 1 KiB; a's (default 64 KiB) lets 2 KiB out, as a peer with other
        // limits would.
        await a.publish(topic, new Uint8Array(2048).fill(1));
        await waitFor(() => reasons.length === 1, 10_000, "the oversized message to be rejected");
        assert(reasons[0].includes("2048 bytes"), reasons[0]);
        await waitFor(() => b.score(a.peerId) < 0, 5_000, "score below 0 after the oversized one");
        await a.publish(topic, new Uint8Array([0xdd])); // b's validator throws
        await a.publish(topic, new Uint8Array([9]));
        await waitFor(() => got.length >= 1, 10_000, "the good message");
        await sleep(200);
        assertEquals(got.map((m) => [...m.data]), [[9]]);
        assert(reasons[1].includes("validator threw"), reasons.join("; "));
        // Local limits are enforced on publish too.
        await assertRejectsCode(b.publish(topic, new Uint8Array(1025)), "too_large");
        await assertRejectsCode(
          b.publish("/webloco/00000000/peers/1", new Uint8Array(1)),
          "invalid_argument",
        );
      }));
  },
});

nodeTest("deno node survives garbage on the gossipsub stream", [{}, {}, {}], async ([a, b, c]) => {
  const topic = a.topics.updates;
  const got: number[] = [];
  a.subscribe(topic, (m) => void got.push(m.data[0]));
  c.subscribe(topic, () => {});
  const junk = [
    new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), // huge varint
    new Uint8Array([0x05, 0xff, 0xff, 0xff, 0xff, 0xff]), // bad protobuf
    new Uint8Array([0x08, 0x0a, 0x06, 0x12, 0x04, 0x2f, 0x78, 0x2f, 0x31, 0x00]), // truncated
    crypto.getRandomValues(new Uint8Array(4096)),
  ];
  for (const bytes of junk) {
    const stream = await b.libp2p.dialProtocol(
      tcpAddrMa(a),
      a.libp2p.services.pubsub.protocols,
    );
    stream.send(bytes);
    await stream.close().catch(() => {});
  }
  await sleep(300);
  // a is still up and still delivers.
  await meshUp(a, c, topic);
  await c.publish(topic, new Uint8Array([42]));
  await waitFor(() => got.includes(42), 10_000, "delivery after the garbage");
});

nodeTest(
  "deno node survives throwing gossip handlers and unsubscribes after the last",
  [{}, {}],
  async ([a, b]) => {
    const topic = a.topics.updates;
    const got: number[] = [];
    a.subscribe(topic, () => {});
    const off1 = b.subscribe(topic, () => {
      throw new Error("handler bug");
    });
    const off2 = b.subscribe(topic, async () => {
      await Promise.resolve();
      throw new Error("async handler bug");
    });
    const off3 = b.subscribe(topic, (m) => void got.push(m.data[0]));
    await meshUp(a, b, topic);
    await a.publish(topic, new Uint8Array([5]));
    await waitFor(() => got.length === 1, 10_000, "delivery despite throwing handlers");
    off1();
    off2();
    off3();
    await waitFor(
      () => !a.topicPeers(topic).includes(b.peerId),
      10_000,
      "unsubscribe to propagate",
    );
    assertEquals(b.libp2p.services.pubsub.getTopics().includes(topic), false);
  },
);

nodeTest("deno node refuses a busy port and a bad bootstrap address with clear errors", [{
  listen: ["/ip4/127.0.0.1/tcp/0"],
}], async ([a]) => {
  const port = tcpAddr(a).split("/")[4];
  const err = await assertRejectsCode(
    createDenoNode({
      runId: TEST_RUN_ID,
      validate: testValidator,
      listen: [`/ip4/127.0.0.1/tcp/${port}`],
    }),
    "start",
  );
  assert(err.message.includes("EADDRINUSE") && !err.message.includes("\n"), err.message);
  await assertRejectsCode(
    createDenoNode({
      runId: TEST_RUN_ID,
      validate: testValidator,
      bootstrap: ["not/a/multiaddr"],
    }),
    "invalid_argument",
  );
  await assertRejectsCode(a.dial("/ip4/127.0.0.1/tcp/1"), "dial");
  await assertRejectsCode(a.dial("nonsense"), "invalid_argument");
});

nodeTest(
  "deno node dials its bootstrap peers and redials them",
  [{}],
  ([a]) =>
    withNodes([{ bootstrap: [tcpAddr(a)], bootstrapIntervalMs: 200 }], async ([b]) => {
      await waitFor(
        () => b.peers().includes(a.peerId),
        10_000,
        "the bootstrap connection",
      );
      const first = b.libp2p.getConnections(a.libp2p.peerId).map((c) => c.id);
      await b.libp2p.hangUp(a.libp2p.peerId);
      await waitFor(
        () => b.libp2p.getConnections(a.libp2p.peerId).some((c) => !first.includes(c.id)),
        10_000,
        "the redial",
      );
    }),
);

Deno.test({
  name: "deno node restarted on a new port finds its peers again through its address book",
  ...LIBP2P_TEST,
  fn: async () => {
    const book = new MemoryStore();
    const privateKey = await generateKeyPair("Ed25519");
    const listen = ["/ip4/127.0.0.1/tcp/0"];
    await withNodes([{ listen }], async ([a]) => {
      // First life: b dials a once; identify puts a's address into b's book, saved on stop.
      const b1 = await createDenoNode({
        runId: TEST_RUN_ID,
        validate: testValidator,
        privateKey,
        listen,
        addressBook: book,
      });
      const oldPort = tcpAddr(b1).split("/")[4];
      try {
        await b1.dial(tcpAddr(a));
        await waitFor(
          () => b1.knownPeers().some((e) => e.peerId === a.peerId),
          10_000,
          "identify of the first connection",
        );
      } finally {
        await b1.stop();
      }
      assert((await book.get(ADDRESS_BOOK_NAME)) !== null, "the book was saved on stop");
      await waitFor(() => !a.peers().includes(b1.peerId), 10_000, "the first hang-up");
      // Second life, same key, a new port, no bootstrap: it dials a from its book, and a
      // learns its new address by identify.
      const b2 = await createDenoNode({
        runId: TEST_RUN_ID,
        validate: testValidator,
        privateKey,
        listen,
        addressBook: book,
      });
      try {
        assert(tcpAddr(b2).split("/")[4] !== oldPort, "a new port");
        await waitFor(() => a.peers().includes(b2.peerId), 10_000, "the redial from the book");
        const port = tcpAddr(b2).split("/")[4];
        await waitFor(
          () =>
            a.knownPeers().some((e) =>
              e.peerId === b2.peerId && e.addresses.some((x) => x.endsWith(`/tcp/${port}`))
            ),
          10_000,
          "a learning the new port",
        );
      } finally {
        await b2.stop();
      }
    });
  },
});

nodeTest(
  "deno node re-dials a kept peer that moved at the address it learned",
  [{ listen: ["/ip4/127.0.0.1/tcp/0"] }],
  async ([a]) => {
    const privateKey = await generateKeyPair("Ed25519");
    const start = () =>
      createDenoNode({
        runId: TEST_RUN_ID,
        validate: testValidator,
        privateKey,
        listen: ["/ip4/127.0.0.1/tcp/0"],
      });
    const v1 = await start();
    a.learn(v1.peerId, v1.addresses());
    a.keep(v1.peerId);
    await waitFor(() => a.peers().includes(v1.peerId), 10_000, "the kept connection");
    await v1.stop();
    await waitFor(() => !a.peers().includes(v1.peerId), 10_000, "the loss");
    const v2 = await start();
    try {
      // What a signed announcement relayed by another peer carries: the new address.
      a.learn(v2.peerId, v2.addresses());
      await waitFor(() => a.peers().includes(v2.peerId), 10_000, "the re-dial at the new port");
    } finally {
      await v2.stop();
    }
  },
);

nodeTest(
  "deno node dials the peers it learns of while below wantPeers connections, and only then",
  [{}, {}, {}, { wantPeers: 1 }],
  async ([a, b, c, d]) => {
    // d has its one wanted connection (to a): learning of b puts b in its book, no dial.
    await d.dial(tcpAddr(a));
    d.learn(b.peerId, b.addresses());
    // a (default: 4) dials c from its book as soon as it learns of it; nobody called dial.
    a.learn(c.peerId, c.addresses());
    await waitFor(() => a.peers().includes(c.peerId), 10_000, "a dialing c from its book");
    await sleep(2_500); // two maintenance passes
    assert(d.knownPeers().some((e) => e.peerId === b.peerId), "b is in d's book");
    assertEquals(d.peers(), [a.peerId], "d stays at its one wanted connection");
  },
);

nodeTest(
  "deno node backs off from a kept peer that accepts and then drops every connection",
  [{}, {}],
  async ([a, b]) => {
    let accepted = 0;
    b.libp2p.addEventListener("peer:connect", (e) => {
      accepted++;
      void b.libp2p.hangUp(e.detail).catch(() => {});
    });
    a.learn(b.peerId, b.addresses());
    a.keep(b.peerId);
    await sleep(15_000);
    // Waits of 1, 2, 4, 8 s after each short-lived connection: dials near 0, 2, 5 and 10 s.
    // Reset on every successful dial, as before, it was one every ~2 s (7–8 in 15 s).
    assert(accepted >= 2 && accepted <= 5, `${accepted} connections in 15 s`);
  },
);
