import { Sampler } from "../data/sampler.ts";
import type { Submission } from "../gauntlet/gauntlet.ts";
import type { LossProbe } from "../gauntlet/loss_check.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { MemoryStore } from "../protocol/memory_store.ts";
import { initialParams, runContext } from "../protocol/run_context.ts";
import { compressModel } from "../reference/sparseloco/compress_model.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { Rng } from "../util/rng.ts";
import { BOOK_FILE, REPLAY_DIR, Scorer } from "./scorer.ts";

Deno.test("Scorer keeps the replay check's updates across a restart: a replay is still refused", async () => {
  await identityReady();
  const v = KeySigner.fromUri("//Validator");
  const [alice, bob, mallory] = ["//Alice", "//Bob", "//Mallory"].map((u) =>
    KeySigner.fromUri(u).address
  );
  const ctx = runContext(
    localGenesis({ validators: [v.address], genesisTime: 0, sparseloco: { H: 2 } }),
  );
  const tokens = Uint32Array.from(new Rng(1).uniforms(4096, 0, 255), Math.floor);
  const sampler = new Sampler(tokens, {
    batch: ctx.genesis.data.batch,
    context: ctx.genesis.model.context,
    seed: 1,
  });
  // The replay check comes before any loss: a constant probe is enough (every update "no gain").
  const probe: LossProbe = {
    loss: () => Promise.resolve(1),
    sequenceLosses: (_p, b) =>
      Promise.resolve(b.flatMap(() => Array(ctx.genesis.data.batch).fill(1))),
  };
  const store = new MemoryStore(), logs: string[] = [];
  const open = () =>
    Scorer.open({
      ctx,
      probe,
      sampler,
      validatorKey: v.publicKey,
      store,
      log: (l) => logs.push(l),
      nonce: () => 7,
    });
  const update = (seed: number) => {
    const delta = new Rng(seed).normals(ctx.layout.length, 1e-3);
    return compressModel(delta, new Float32Array(delta.length), ctx.tensors, ctx.compress);
  };
  const theta = initialParams(ctx);
  const first = await open();
  const w0: Submission[] = [
    { address: alice, arrival: 1, tensors: update(1) },
    { address: bob, arrival: 2, tensors: update(2) },
  ];
  await first.judge(0, theta, w0);
  await first.stop();
  assertEquals((await store.sub(REPLAY_DIR).list()).length, 2, "both updates kept");
  const book = JSON.parse(new TextDecoder().decode((await store.get(BOOK_FILE))!));
  assertEquals(book.replay.window, 0);

  // Restarted: Mallory re-sends Alice's update of window 0 under window 1.
  const second = await open();
  const j = await second.judge(1, theta, [
    { address: bob, arrival: 1, tensors: update(3) },
    { address: mallory, arrival: 2, tensors: w0[0].tensors },
  ]);
  await second.stop();
  const out = j.leftOut.get(mallory);
  assertEquals(out?.code, "copy", `mallory: ${JSON.stringify(out)}; ${logs.join("; ")}`);
  assert(out!.text.includes("replay of"), out!.text);
  assertEquals(out!.other, alice);
  assert(!j.leftOut.get(bob)?.text.includes("replay"), "bob's fresh update is no replay");
  // The book names window 1's updates, and they are there.
  const names = JSON.parse(new TextDecoder().decode((await store.get(BOOK_FILE))!)).replay.updates
    .map((u: { file: string }) => u.file);
  assertEquals(names.length, 2);
  const held = await store.sub(REPLAY_DIR).list();
  for (const n of names) assert(held.includes(n), `${n} kept`);
  assertEquals(logs.filter((l) => l.includes("left out of the replay check")), []);
});

Deno.test("Scorer remember makes a window it did not judge the replay check's reference", async () => {
  await identityReady();
  const v = KeySigner.fromUri("//Validator");
  const [alice, mallory] = ["//Alice", "//Mallory"].map((u) => KeySigner.fromUri(u).address);
  const ctx = runContext(
    localGenesis({ validators: [v.address], genesisTime: 0, sparseloco: { H: 2 } }),
  );
  const tokens = Uint32Array.from(new Rng(1).uniforms(4096, 0, 255), Math.floor);
  const sampler = new Sampler(tokens, {
    batch: ctx.genesis.data.batch,
    context: ctx.genesis.model.context,
    seed: 1,
  });
  const probe: LossProbe = {
    loss: () => Promise.resolve(1),
    sequenceLosses: (_p, b) =>
      Promise.resolve(b.flatMap(() => Array(ctx.genesis.data.batch).fill(1))),
  };
  const delta = new Rng(5).normals(ctx.layout.length, 1e-3);
  const tensors = compressModel(delta, new Float32Array(delta.length), ctx.tensors, ctx.compress);
  // With a quorum another validator judged window 0; this one only fetched and checked it.
  const verdictOfReplay = async (remembered: boolean) => {
    const scorer = await Scorer.open({
      ctx,
      probe,
      sampler,
      validatorKey: v.publicKey,
      store: new MemoryStore(),
      log: () => {},
      nonce: () => 7,
    });
    if (remembered) await scorer.remember(0, [{ address: alice, arrival: 1, tensors }]);
    const j = await scorer.judge(1, initialParams(ctx), [{
      address: mallory,
      arrival: 1,
      tensors,
    }]);
    await scorer.stop();
    return j.leftOut.get(mallory)?.code;
  };
  assertEquals(await verdictOfReplay(true), "copy", "a replay of the remembered window");
  assert(await verdictOfReplay(false) !== "copy", "nothing to compare with otherwise");
});
