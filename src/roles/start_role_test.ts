import { generateKeyPair } from "@libp2p/crypto/keys";
import { cpuOps } from "../backend/cpu_ops.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { createDenoNode } from "../net/deno_node.ts";
import type { WeblocoNodeOptions } from "../net/node.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { MemoryStore } from "../protocol/memory_store.ts";
import { runContext } from "../protocol/run_context.ts";
import { StateError } from "../protocol/state_store.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import type { RoleEvent } from "./role_events.ts";
import { startRole } from "./start_role.ts";

await identityReady();

const alice = KeySigner.fromUri("//Alice"); // the validator
const bob = KeySigner.fromUri("//Bob");
// Window 0 is a day away: the roles wait for genesis and do nothing else.
const ctx = runContext(
  localGenesis({ validators: [alice.address], genesisTime: Date.now() + 86_400_000 }),
);

const EXTRA = "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWBumM5YZ7JheRP3tWt2f1odRMf9kGdYwkDRbJAu7bQxQb";

async function damagedStore(): Promise<MemoryStore> {
  const store = new MemoryStore();
  await store.put("state.json", new TextEncoder().encode("garbage"));
  return store;
}

Deno.test({
  name: "startRole peer quarantines a damaged state, starts from θ₀ on the node it made",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const store = await damagedStore();
    const events: RoleEvent[] = [];
    const made: WeblocoNodeOptions[] = [];
    const role = await startRole({
      role: "peer",
      ctx,
      signer: bob,
      store,
      libp2pKey: await generateKeyPair("Ed25519"),
      bootstrap: [EXTRA],
      createNode: (o) => {
        made.push(o);
        return createDenoNode({ ...o, listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: [] });
      },
      emit: (e) => events.push(e),
      ops: cpuOps(32),
      tokens: Uint32Array.from({ length: 4096 }, (_, i) => i % 256),
    });
    try {
      assertEquals(made.length, 1);
      assertEquals(made[0].bootstrap, [...ctx.genesis.bootstrap, EXTRA]);
      assertEquals(made[0].runId, ctx.runId);
      const names = await store.list();
      assert(!names.includes("state.json"), `moved aside (${names})`);
      const bad = names.find((n) => n.startsWith("state.json.bad-"));
      assert(bad !== undefined, `kept (${names})`);
      const logs = events.flatMap((e) => e.event === "log" ? [e.line] : []);
      assert(logs.some((l) => l.includes(`kept as memory/${bad}`)), logs.join("\n"));
      assert(role.node.peerId.length > 0, "a started node");
    } finally {
      await role.stop();
    }
    const status = events.flatMap((e) => e.event === "status" ? [e] : []);
    assert(status.length > 0, "status events");
    for (const s of status) assertEquals([s.role, s.applied], ["peer", -1]);
  },
});

Deno.test("startRole validator refuses a damaged state before making a node", async () => {
  const store = await damagedStore();
  let error: unknown;
  try {
    await startRole({
      role: "validator",
      ctx,
      signer: alice,
      store,
      libp2pKey: await generateKeyPair("Ed25519"),
      createNode: () => Promise.reject(new Error("no node expected")),
      emit: () => {},
      ops: cpuOps(32),
      tokens: new Uint32Array(4096),
    });
  } catch (e) {
    error = e;
  }
  assert(error instanceof StateError, `expected StateError, got ${error}`);
  assert(error.message.includes("memory/state.json: not JSON"), error.message);
  assert(error.message.includes("does not start from a damaged state"), error.message);
  assertEquals(await store.list(), ["state.json"]);
});
