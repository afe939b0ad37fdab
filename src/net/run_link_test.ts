import { assertEquals, assertThrows } from "../testing/assert.ts";
import { readRunLink, runLink } from "./run_link.ts";

const GENESIS = JSON.stringify({ name: "swarm · ünïcode", windowMs: 12000 });
const WS = "/ip4/127.0.0.1/tcp/4001/ws/p2p/12D3KooWExample";

Deno.test("runLink round-trips the genesis, bootstrap addresses and run id through the query", () => {
  const link = runLink("http://127.0.0.1:4179/peer.html", GENESIS, [WS, `${WS}2`], "ab".repeat(32));
  const url = new URL(link);
  assertEquals(url.pathname, "/peer.html");
  assertEquals(readRunLink(url.searchParams), {
    genesis: GENESIS,
    bootstrap: [WS, `${WS}2`],
    runId: "ab".repeat(32),
    profile: "webloco",
    cpu: false,
  });
});

Deno.test("readRunLink reads the profile and backend, and refuses an incomplete link", () => {
  const q = new URL(runLink("http://h/peer.html", GENESIS, [WS], "00")).searchParams;
  q.set("profile", "second");
  q.set("backend", "cpu");
  const l = readRunLink(q);
  assertEquals([l.profile, l.cpu], ["second", true]);
  assertThrows(() => readRunLink(new URLSearchParams(`bootstrap=${WS}`)), Error, "names no run");
  assertThrows(
    () => readRunLink(new URLSearchParams({ genesis: q.get("genesis")! })),
    Error,
    "names no bootstrap",
  );
  assertThrows(
    () => readRunLink(new URLSearchParams({ genesis: "%%%", bootstrap: WS })),
    Error,
    "not base64url",
  );
});
