import { CheckpointError } from "../codec/checkpoint.ts";
import { type ModelConfig, PRESETS } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { paramLayout } from "../model/params.ts";
import { assertEquals, assertRejects } from "../testing/assert.ts";
import { decodeTrainCheckpoint, encodeTrainCheckpoint } from "./train_checkpoint.ts";

const MICRO: ModelConfig = {
  ...PRESETS.tiny,
  ...{ dModel: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, ffnHidden: 32, context: 8 },
};

Deno.test("train checkpoint round-trips the state and rejects another run's", async () => {
  const layout = paramLayout(MICRO);
  const params = initParams(layout, MICRO, 4);
  const m = Float32Array.from({ length: layout.length }, (_, i) => i * 1e-3);
  const v = Float32Array.from({ length: layout.length }, (_, i) => i * 1e-6);
  const runId = "ab".repeat(32);
  const bytes = await encodeTrainCheckpoint(layout, { step: 17, params, m, v }, runId);
  assertEquals(await decodeTrainCheckpoint(bytes, layout, runId), { step: 17, params, m, v });
  const e = await assertRejects(
    () => decodeTrainCheckpoint(bytes, layout, "cd".repeat(32)),
    CheckpointError,
  );
  assertEquals(
    e.message,
    `checkpoint: wrong run: checkpoint of run ${runId}, expected ${"cd".repeat(32)}`,
  );
});
