import { assertEquals } from "../testing/assert.ts";
import { cpuOps } from "../backend/cpu_ops.ts";
import { encodeUpdate } from "../codec/update_codec.ts";
import { Sampler } from "../data/sampler.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { ModelChain } from "../protocol/model_chain.ts";
import { dataPeerIndex, initialParams, runContext } from "../protocol/run_context.ts";
import { type InnerLoop, WindowTrainer } from "../roles/window_trainer.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { WorkerTrainer } from "../../workers/worker_trainer.ts";
import { parseRoleArgs } from "./role_main.ts";
import { loadRunData } from "./run_data.ts";

/** test/round_golden_test.ts: GOLDEN.payloads[0][0] (Alice's window-0 update, no recompute). */
const ALICE_WINDOW_0 = "596405de00ebf0aeccc2e19607d6da745fe820d43938d0807e6dc73b5d4c0b3d";
const BASE = ["peer", "--genesis", "g.json", "--key", "k.json", "--data-dir", "d"];

Deno.test("roleFlags --recompute is off unless given", () => {
  assertEquals(parseRoleArgs(BASE).recompute, false);
  assertEquals(parseRoleArgs([...BASE, "--recompute"]).recompute, true);
});

Deno.test("roleFlags --recompute trains the golden window payload, on the peer's thread and in a Worker", async () => {
  await identityReady();
  // The setting of test/round_golden_test.ts, where Alice's window-0 payload is its golden one.
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
  const theta = initialParams(ctx);
  const base = (await ModelChain.at(ctx, theta, -1)).hash;
  const payload = async (t: InnerLoop) => {
    await t.train(theta, 0, Infinity);
    return hex(
      await sha256(encodeUpdate({
        indexMode: ctx.indexMode,
        runId: ctx.runId,
        window: 0,
        modelHash: base,
        tensors: (await t.compress()).map((x, id) => ({ ...x, id })),
      })),
    );
  };
  const recomputing = new WindowTrainer(ctx, ops, sampler(), peer, { recompute: true });
  assertEquals([recomputing.recompute, new WindowTrainer(ctx, ops, sampler(), peer).recompute], [
    true,
    false,
  ]);
  assertEquals(await payload(recomputing), ALICE_WINDOW_0);
  const inWorker = new WorkerTrainer(ctx, ops.name, sampler(), peer, { recompute: true });
  try {
    assertEquals(await payload(inWorker), ALICE_WINDOW_0);
  } finally {
    inWorker.close();
  }
});
