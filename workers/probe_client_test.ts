import { assert, assertEquals, assertRejects } from "../src/testing/assert.ts";
import { cpuOps } from "../src/backend/cpu_ops.ts";
import { loadRunData } from "../src/cli/run_data.ts";
import { Sampler } from "../src/data/sampler.ts";
import { KeySigner } from "../src/identity/key_signer.ts";
import { identityReady } from "../src/identity/signer.ts";
import { localGenesis } from "../src/protocol/local_genesis.ts";
import { dataPeerIndex, initialParams, runContext } from "../src/protocol/run_context.ts";
import { evaluationBatches, ModelProbe } from "../src/roles/model_probe.ts";
import { Rng } from "../src/util/rng.ts";
import { ownedBatches, PROBE_HELD, WorkerProbe } from "./probe_client.ts";

await identityReady();

Deno.test("WorkerProbe measures the same bits as a ModelProbe on the validator's thread", async () => {
  const v = KeySigner.fromUri("//Validator"), alice = KeySigner.fromUri("//Alice");
  const g = localGenesis({ validators: [v.address], genesisTime: 0, sparseloco: { H: 8 } });
  const ctx = runContext(g);
  const data = await loadRunData(g, "local");
  const sampler = Sampler.ofRun(data.train, g);
  const { assigned, unassigned } = evaluationBatches(
    sampler,
    8,
    0,
    dataPeerIndex(alice.publicKey),
    dataPeerIndex(v.publicKey),
    2,
    7,
  );
  // θ₀ and a seeded move of it (a loss that is not θ₀'s, so a stale θ in the worker shows).
  const theta0 = initialParams(ctx);
  const rng = new Rng(11);
  const theta1 = theta0.map((x) => x + 0.05 * (rng.uniform() - 0.5));
  const ops = cpuOps(32);
  const inThread = new ModelProbe(ops, g);
  const inWorker = new WorkerProbe(g, ops.name);
  try {
    for (const theta of [theta0, theta1, theta0]) {
      assertEquals(await inWorker.loss(theta, assigned), await inThread.loss(theta, assigned));
      assertEquals(await inWorker.loss(theta, unassigned), await inThread.loss(theta, unassigned));
      assertEquals(
        await inWorker.sequenceLosses(theta, unassigned),
        await inThread.sequenceLosses(theta, unassigned),
      );
    }
    assert(await inThread.loss(theta1, unassigned) !== await inThread.loss(theta0, unassigned));
    // Each distinct θ crossed once, however many batches and calls it was measured on.
    assertEquals(inWorker.thetasSent, 2);
    // Requests in flight together are answered in order, each on its own θ.
    const together = await Promise.all([
      inWorker.loss(theta1, assigned),
      inWorker.loss(theta0, assigned),
    ]);
    assertEquals(together, [
      await inThread.loss(theta1, assigned),
      await inThread.loss(theta0, assigned),
    ]);
    // Past PROBE_HELD distinct θ the oldest is evicted and sent again when it is asked for.
    const more = Array.from(
      { length: PROBE_HELD },
      (_, i) => theta0.map((x) => x * (1 + 0.01 * i)),
    );
    for (const t of more) await inWorker.loss(t, [assigned[0]]);
    assertEquals(inWorker.thetasSent, 2 + PROBE_HELD);
    assertEquals(await inWorker.loss(theta0, assigned), await inThread.loss(theta0, assigned));
    assertEquals(inWorker.thetasSent, 3 + PROBE_HELD);
    await assertRejects(() => inWorker.loss(theta0, []), RangeError, "no batches");
  } finally {
    inWorker.close();
  }
  await assertRejects(() => inWorker.loss(theta0, assigned), Error, "probe worker closed");
});

Deno.test("ownedBatches copies views onto buffers of their own size", () => {
  const tokens = new Uint32Array(1_000).map((_, i) => i);
  const views = [{ inputs: tokens.subarray(10, 14), targets: tokens.subarray(11, 15) }];
  const owned = ownedBatches(views);
  assertEquals(owned[0].inputs.buffer.byteLength, 16);
  assertEquals(owned[0].targets.buffer.byteLength, 16);
  assertEquals([...owned[0].inputs, ...owned[0].targets], [10, 11, 12, 13, 11, 12, 13, 14]);
});
