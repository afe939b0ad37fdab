import { assert, assertEquals } from "../testing/assert.ts";
import { multiaddr } from "@multiformats/multiaddr";
import { browserMayDial, createBrowserNode, isLocalHost } from "./browser_node.ts";
import { installDenoShims } from "./deno_shims.ts";
import type { WeblocoNode } from "./node.ts";
import {
  assertRejectsCode,
  nodeTest,
  tcpAddr,
  TEST_RUN_ID,
  testValidator,
  waitFor,
  wsAddr,
} from "./_test_utils.ts";

Deno.test("browser node dials only websockets, and local ones only when allowed", () => {
  const id = "/p2p/12D3KooWJhkPGFze3D4CkRcm2VvpxNRh66QHiLMFh4dkPKWFdDNY";
  const cases: [string, boolean, boolean][] = [
    // address, allowed without allowLocal, allowed with allowLocal
    ["/dns4/peer.example.org/tcp/443/wss" + id, true, true],
    ["/ip4/8.8.8.8/tcp/443/tls/ws" + id, true, true],
    ["/ip4/8.8.8.8/tcp/80/ws" + id, false, true],
    ["/ip4/127.0.0.1/tcp/4001/ws" + id, false, true],
    ["/ip4/192.168.1.2/tcp/443/wss" + id, false, true],
    ["/dns4/localhost/tcp/443/wss" + id, false, true],
    ["/ip4/8.8.8.8/tcp/4001" + id, false, false],
    ["/ip4/8.8.8.8/tcp/443/wss/p2p-circuit" + id, false, false],
  ];
  for (const [addr, strict, local] of cases) {
    assertEquals(browserMayDial(multiaddr(addr), false), strict, `${addr} strict`);
    assertEquals(browserMayDial(multiaddr(addr), true), local, `${addr} allowLocal`);
  }
  assert(isLocalHost("ip4", "10.1.2.3") && isLocalHost("ip4", "172.20.0.1"));
  assert(!isLocalHost("ip4", "172.32.0.1") && !isLocalHost("ip4", "1.2.3.4"));
  assert(
    isLocalHost("ip6", "::1") && isLocalHost("ip6", "fd00::1") &&
      !isLocalHost("ip6", "2001:db8::1"),
  );
});

nodeTest(
  "browser node configuration works against a deno node over websockets",
  [{}],
  async ([server]) => {
    // Under Deno this runs the node build of the websockets transport, but the same
    // services, gater and wrapper as in a browser.
    installDenoShims();
    let browser: WeblocoNode | undefined;
    let strict: WeblocoNode | undefined;
    try {
      browser = await createBrowserNode({
        runId: TEST_RUN_ID,
        validate: testValidator,
        allowLocal: true,
        bootstrap: [wsAddr(server)],
      });
      assertEquals(browser.addresses(), [], "a browser node does not listen");
      const topic = server.topics.updates;
      const got: number[] = [];
      server.subscribe(topic, (m) => void got.push(m.data[0]));
      browser.subscribe(topic, () => {});
      await waitFor(
        () => server.meshPeers(topic).includes(browser!.peerId),
        10_000,
        "the browser node in the mesh",
      );
      await browser.publish(topic, new Uint8Array([11]));
      await waitFor(() => got.includes(11), 10_000, "gossip from the browser node");
      const hash = await server.store.add(new Uint8Array(70_000).fill(7));
      assertEquals((await browser.fetch(hash, [wsAddr(server)])).length, 70_000);
      // The browser node serves what it holds to peers over its own connections.
      const back = await server.fetchFrom(browser.peerId, hash);
      assertEquals(back.length, 70_000);
      // TCP is not a browser transport; without allowLocal, ws://127.0.0.1 is refused.
      strict = await createBrowserNode({
        runId: TEST_RUN_ID,
        validate: testValidator,
        allowLocal: false,
      });
      await assertRejectsCode(strict.dial(tcpAddr(server)), "dial");
      await assertRejectsCode(strict.dial(wsAddr(server)), "dial");
      assertEquals(strict.peers(), []);
    } finally {
      await browser?.stop();
      await strict?.stop();
    }
  },
);
