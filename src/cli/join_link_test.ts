import { assert, assertEquals } from "../testing/assert.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { runIdOf } from "../protocol/genesis.ts";
import { readRunLink } from "../net/run_link.ts";
import { hex } from "../util/hex.ts";
import { joinLine, PREVIEW_PAGE } from "./join_link.ts";

Deno.test("joinLine links the page to the run and the node's WebSocket addresses only", async () => {
  await identityReady();
  const genesis = localGenesis({
    validators: [KeySigner.fromUri("//Alice").address],
    genesisTime: 0,
  });
  const ws = "/ip4/127.0.0.1/tcp/4002/ws/p2p/12D3KooWExample";
  const line = joinLine(PREVIEW_PAGE, genesis, ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWExample", ws]);
  const prefix = `join from a browser: open ${PREVIEW_PAGE}?`;
  assert(line.startsWith(prefix), line);
  const q = new URLSearchParams(line.slice(prefix.length));
  assertEquals(q.get("run"), hex(runIdOf(genesis)));
  assertEquals(q.getAll("bootstrap"), [ws]);
  assertEquals(JSON.parse(readRunLink(q).genesis), JSON.parse(JSON.stringify(genesis)));
  assert(
    joinLine(PREVIEW_PAGE, genesis, ["/ip4/127.0.0.1/tcp/4001"]).startsWith("no browser can join"),
  );
});
