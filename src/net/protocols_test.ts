import { assertEquals, assertThrows } from "../testing/assert.ts";
import { parseTopic, PAYLOAD_PROTOCOL, runIdHex8, runTopics, topicName } from "./protocols.ts";

Deno.test("protocols topic names carry the run id and version", () => {
  const runId = new Uint8Array(32);
  runId.set([0x1a, 0x2b, 0x3c, 0x4d]);
  assertEquals(runIdHex8(runId), "1a2b3c4d");
  assertEquals(topicName(runId, "updates"), "/webloco/1a2b3c4d/updates/1");
  assertEquals(runTopics("1A2B3C4D" + "00".repeat(28)), {
    peers: "/webloco/1a2b3c4d/peers/1",
    updates: "/webloco/1a2b3c4d/updates/1",
    rounds: "/webloco/1a2b3c4d/rounds/1",
  });
  assertEquals(PAYLOAD_PROTOCOL, "/webloco/payload/1.0.0");
});

Deno.test("protocols parseTopic round-trips and refuses anything else", () => {
  assertEquals(parseTopic("/webloco/1a2b3c4d/rounds/1"), {
    runIdHex8: "1a2b3c4d",
    kind: "rounds",
    version: 1,
  });
  for (
    const bad of [
      "",
      "/webloco/1a2b3c4d/rounds",
      "/webloco/1A2B3C4D/rounds/1",
      "/webloco/1a2b3c4d/chat/1",
      "/webloco/1a2b3c4d/rounds/0",
      "/other/1a2b3c4d/rounds/1",
      "/webloco/1a2b3c4d/rounds/1/x",
      "x".repeat(1000),
    ]
  ) assertEquals(parseTopic(bad), null, bad);
});

Deno.test("protocols runIdHex8 refuses short or non-hex ids", () => {
  assertThrows(() => runIdHex8(new Uint8Array(3)), TypeError);
  assertThrows(() => runIdHex8("1a2b3c"), TypeError);
  assertThrows(() => runIdHex8("zz2b3c4d"), TypeError);
});
