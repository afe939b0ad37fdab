/**
 * Three validators with a genesis `quorum`, in this process on 127.0.0.1 (no peers: every
 * record is empty, so a window costs milliseconds of work and only the agreement is
 * measured). The proposals of one window are lost (dropped as each validator publishes
 * them; their votes travel): each validator proposes its own record in its turn and votes for
 * it, so the window's votes split three ways and no record of it can count.
 */

import { generateKeyPair } from "@libp2p/crypto/keys";
import { cpuOps } from "../backend/cpu_ops.ts";
import { decodeMessage } from "../codec/messages.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { createDenoNode } from "../net/deno_node.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { MemoryStore } from "../protocol/memory_store.ts";
import { runContext } from "../protocol/run_context.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { pollUntil } from "../testing/poll_until.ts";
import type { AppliedEvent } from "./role_events.ts";
import { type RoleHandle, startRole } from "./start_role.ts";

await identityReady();

Deno.test({
  name: "validators with a quorum start the window after a lost one on time, on one model",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const signers = ["//Alice", "//Bob", "//Charlie"].map((u) => KeySigner.fromUri(u));
    const windowMs = 4_000, fallbackMs = 1_000;
    const ctx = runContext(localGenesis({
      validators: signers.map((s) => s.address),
      genesisTime: Date.now() + 6_000,
      windowMs,
      quorum: { votes: 2, fallbackMs },
    }));
    const deadline = (w: number) => ctx.clock.windowEnd(w) + ctx.graceMs;
    // Window 2's proposals are lost; its votes are not.
    const LOST = 2;
    const lost = (data: Uint8Array) => {
      const m = decodeMessage(data);
      return m.ok && m.message.body.kind === "round-record" && m.message.body.window === LOST;
    };
    const applied: (AppliedEvent & { at: number })[][] = signers.map(() => []);
    const logs: string[] = [];
    const roles: RoleHandle[] = [];
    try {
      const addresses: string[] = [];
      for (const [i, signer] of signers.entries()) {
        roles.push(
          await startRole({
            role: "validator",
            ctx,
            signer,
            store: new MemoryStore(),
            libp2pKey: await generateKeyPair("Ed25519"),
            bootstrap: [...addresses],
            createNode: async (o) => {
              const node = await createDenoNode({ ...o, listen: ["/ip4/127.0.0.1/tcp/0"] });
              const publish = node.publish.bind(node);
              node.publish = (topic, data) =>
                lost(data) ? Promise.resolve(0) : publish(topic, data);
              return node;
            },
            emit: (e) => {
              if (e.event === "applied") applied[i].push({ ...e, at: Date.now() });
              if (e.event === "log") logs.push(`${i}: ${e.line}`);
            },
            ops: cpuOps(32),
            tokens: Uint32Array.from({ length: 4096 }, (_, k) => k % 256),
          }),
        );
        addresses.push(...roles[i].node.addresses());
      }
      const NEXT = LOST + 1;
      await pollUntil(
        `every validator applying record ${NEXT}`,
        () => applied.every((a) => a.some((e) => e.window === NEXT)) || undefined,
        { deadline: deadline(NEXT) + 3 * windowMs, logs },
      );
      for (const [i, a] of applied.entries()) {
        assertEquals(
          a.map((e) => e.window).filter((w) => w <= NEXT),
          [0, 1, NEXT],
          `validator ${i}`,
        );
      }
      for (const w of [1, NEXT]) {
        const hashes = new Set(applied.map((a) => a.find((e) => e.window === w)!.modelHash));
        assertEquals(hashes.size, 1, `one model after record ${w}`);
      }
      // The lost window held its validators until its split showed (its three votes seen), not
      // until its give-up time (n fallbacks after the next deadline, 3 s): the next window's
      // first proposer proposed in its turn.
      const late = Math.min(...applied.map((a) => a.find((e) => e.window === NEXT)!.at)) -
        deadline(NEXT);
      console.log(
        `record ${NEXT} (after the lost window ${LOST}) counted ${late} ms after its deadline`,
      );
      assert(late < 2 * fallbackMs, `record ${NEXT} counted ${late} ms after its deadline`);
    } finally {
      for (const r of roles) await r.stop();
    }
  },
});
