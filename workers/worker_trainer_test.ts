import { assertEquals, assertRejects } from "../src/testing/assert.ts";
import { cpuOps } from "../src/backend/cpu_ops.ts";
import { encodeUpdate } from "../src/codec/update_codec.ts";
import { Sampler } from "../src/data/sampler.ts";
import { KeySigner } from "../src/identity/key_signer.ts";
import { identityReady } from "../src/identity/signer.ts";
import { localGenesis } from "../src/protocol/local_genesis.ts";
import { dataPeerIndex, initialParams, runContext } from "../src/protocol/run_context.ts";
import { loadRunData } from "../src/cli/run_data.ts";
import { type StepInfo, WindowTrainer } from "../src/roles/window_trainer.ts";
import { sha256 } from "../src/util/hash.ts";
import { hex } from "../src/util/hex.ts";
import { ModelChain } from "../src/protocol/model_chain.ts";
import { WorkerTrainer } from "./worker_trainer.ts";

/** test/round_golden_test.ts: GOLDEN.payloads[0][0]. */
const ALICE_WINDOW_0 = "596405de00ebf0aeccc2e19607d6da745fe820d43938d0807e6dc73b5d4c0b3d";

await identityReady();

Deno.test("WorkerTrainer trains the same bits as a WindowTrainer on the peer's thread", async () => {
  // The setting of test/round_golden_test.ts: Alice's window-0 payload is its golden one.
  const alice = KeySigner.fromUri("//Alice");
  const g = localGenesis({
    validators: [KeySigner.fromUri("//Validator").address],
    genesisTime: 1_700_000_000_000,
    sparseloco: { H: 3 },
  });
  const ctx = runContext(g);
  const data = await loadRunData(g, "local");
  const sampler = () => Sampler.ofRun(data.train, g);
  const peer = dataPeerIndex(alice.publicKey);
  const ops = cpuOps(32);
  const inThread = new WindowTrainer(ctx, ops, sampler(), peer);
  // Step messages at most once a day: each window reports its first step only.
  const inWorker = new WorkerTrainer(ctx, ops.name, sampler(), peer, { stepReportMs: 86_400_000 });
  try {
    const theta = initialParams(ctx);
    const base = (await ModelChain.at(ctx, theta, -1)).hash;
    const payload = async (w: number, t: WindowTrainer<unknown> | WorkerTrainer) =>
      hex(
        await sha256(encodeUpdate({
          indexMode: ctx.indexMode,
          runId: ctx.runId,
          window: w,
          modelHash: base,
          tensors: (await t.compress()).map((x, id) => ({ ...x, id })),
        })),
      );
    const steps: StepInfo[] = [];
    for (let w = 0; w < 2; w++) {
      const a = await inThread.train(theta, w, Infinity);
      const b = await inWorker.train(theta, w, Infinity, (s) => steps.push(s));
      assertEquals([b.steps, b.meanLoss], [a.steps, a.meanLoss], `window ${w}`);
      const hash = await payload(w, inWorker);
      assertEquals(hash, await payload(w, inThread), `window ${w} payload`);
      if (w === 0) assertEquals(hash, ALICE_WINDOW_0, "the golden payload");
    }
    // Step messages are throttled: each window reported its first step, and no other.
    assertEquals(steps.map((s) => [s.step, s.of]), [[1, 3], [1, 3]]);
    // The error feedback (carried across windows in the worker) is the thread's, bit for bit.
    assertEquals(await inWorker.readError(), await inThread.readError());
    inWorker.loadError(new Float32Array(ctx.layout.length));
    assertEquals((await inWorker.readError()).every((x) => x === 0), true);
    // A past deadline: no step.
    assertEquals((await inWorker.train(theta, 2, Date.now() - 1)).steps, 0);
  } finally {
    inWorker.close();
  }
  await assertRejects(() => inWorker.readError(), Error, "trainer worker closed");
});
