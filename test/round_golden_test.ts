/**
 * Golden model hashes of two SparseLoCo rounds (3 peers, H 3, CPU reference): train, compress,
 * encode, aggregate, exactly as the peer and the validator do. The values were recorded before
 * the layout restructuring (commit 005eda3) and pin the behaviour of every layer on the path:
 * sampler, model, AdamW, error feedback, top-k, quantization, the wire codec, aggregation and
 * the model hash. A change to any of them that alters a bit fails here.
 */
import { cpuOps } from "../src/backend/cpu_ops.ts";
import { encodeUpdate } from "../src/codec/update_codec.ts";
import { Sampler } from "../src/data/sampler.ts";
import { KeySigner } from "../src/identity/key_signer.ts";
import { identityReady } from "../src/identity/signer.ts";
import { sha256 } from "../src/util/hash.ts";
import { localGenesis } from "../src/protocol/local_genesis.ts";
import { hex } from "../src/util/hex.ts";
import { ModelChain } from "../src/protocol/model_chain.ts";
import { dataPeerIndex, initialParams, runContext } from "../src/protocol/run_context.ts";
import { loadRunData } from "../src/cli/run_data.ts";
import { WindowTrainer } from "../src/roles/window_trainer.ts";
import { assertEquals } from "../src/testing/assert.ts";

const GOLDEN = {
  theta0: "1102b3814510bd9fc510ba0f0bb329392b3db6390f77453f9922279ecc672253",
  payloads: [
    [
      "596405de00ebf0aeccc2e19607d6da745fe820d43938d0807e6dc73b5d4c0b3d",
      "7a5945160ec3a10fbc6e20f2804b59ba3bca26b187d523f58275e0d2fed24d2d",
      "b8651177763a75c3559c606b08fefa5a7daa33c20472b138005d692e46d3b7a2",
    ],
    [
      "2daaee43b2de150f17362947ccceeabd29f7e2f71346cc869241e2030bfcd683",
      "bfafcc5868cbf7062b2802ce13134bd3c90a75559dd82c56a53730b4801a256a",
      "5403b4aadb07c220f4c7ec0d5f9ac31dcc5c720c22d8ae68654cc51e6e5e48dc",
    ],
  ],
  next: [
    "9ee5403f99924248369103da8b846f6ebb2e7705e938d669e805b3a67a3c9bf6",
    "8e15a2ad1832d34c39bb5d1c912be61f3a76e29ec33e03bbb30b0b659a253ac2",
  ],
};

Deno.test("SparseLoCo rounds reproduce the golden model hashes", async () => {
  await identityReady();
  const validator = KeySigner.fromUri("//Validator");
  const peers = ["//Alice", "//Bob", "//Charlie"].map((s) => KeySigner.fromUri(s));
  const g = localGenesis({
    validators: [validator.address],
    genesisTime: 1_700_000_000_000,
    sparseloco: { H: 3 },
  });
  const ctx = runContext(g);
  const data = await loadRunData(g, "local");
  const opts = { batch: g.data.batch, context: g.model.context, seed: g.data.seed };
  const trainers = peers.map((p) =>
    new WindowTrainer(ctx, cpuOps(32), new Sampler(data.train, opts), dataPeerIndex(p.publicKey))
  );
  const chain = await ModelChain.at(ctx, initialParams(ctx), -1);
  assertEquals(chain.hashHex, GOLDEN.theta0, "θ₀");
  for (let w = 0; w < 2; w++) {
    const contributions = [];
    for (let i = 0; i < peers.length; i++) {
      const res = await trainers[i].train(chain.params, w, Infinity);
      assertEquals(res.steps, 3, `window ${w} peer ${i} steps`);
      const tensors = await trainers[i].compress();
      const bytes = encodeUpdate({
        indexMode: ctx.indexMode,
        runId: ctx.runId,
        window: w,
        modelHash: chain.hash,
        tensors: tensors.map((t, id) => ({ ...t, id })),
      });
      const payload = hex(await sha256(bytes));
      assertEquals(payload, GOLDEN.payloads[w][i], `window ${w} peer ${i} payload`);
      contributions.push({ address: peers[i].address, bytes });
    }
    chain.commit(w, await chain.next(w, contributions));
    assertEquals(chain.hashHex, GOLDEN.next[w], `θ after window ${w}`);
  }
});
