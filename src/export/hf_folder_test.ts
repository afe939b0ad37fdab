import { decodeSafetensors, encodeSafetensors } from "../codec/safetensors.ts";
import { hex } from "../util/hex.ts";
import { modelHashSync } from "../codec/model_hash.ts";
import { type ModelConfig, presetConfig } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { paramLayout } from "../model/params.ts";
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { ExportError } from "./export_error.ts";
import { configJson, loadHfModel, weightsFile } from "./hf_folder.ts";

function model(config: ModelConfig) {
  const params = initParams(paramLayout(config), config, 3);
  const meta = { runId: "ab".repeat(32), window: 5, modelHash: hex(modelHashSync(params)) };
  return { params, meta, config: configJson(config), weights: weightsFile(config, params, meta) };
}

Deno.test("configJson writes every LlamaForCausalLM field of the model config", () => {
  const c: ModelConfig = {
    ...presetConfig("small"),
    tiedEmbeddings: false,
    ropeTheta: 5e5,
    normEps: 1e-6,
  };
  const j = JSON.parse(configJson(c));
  assertEquals(j.architectures, ["LlamaForCausalLM"]);
  assertEquals(j.model_type, "llama");
  assertEquals(
    [j.hidden_size, j.num_hidden_layers, j.num_attention_heads, j.num_key_value_heads],
    [c.dModel, c.nLayers, c.nHeads, c.nKvHeads],
  );
  assertEquals([j.intermediate_size, j.vocab_size, j.max_position_embeddings], [
    c.ffnHidden,
    c.vocabSize,
    c.context,
  ]);
  assertEquals([j.rope_theta, j.rms_norm_eps, j.tie_word_embeddings], [5e5, 1e-6, false]);
  assertEquals([j.head_dim, j.hidden_act, j.torch_dtype], [c.dModel / c.nHeads, "silu", "float32"]);
  assertEquals([j.attention_bias, j.mlp_bias, j.rope_scaling], [false, false, null]);
});

Deno.test("loadHfModel reads back the exact parameters, tied and untied", async () => {
  for (const tied of [true, false]) {
    const c = { ...presetConfig("tiny"), tiedEmbeddings: tied };
    const m = model(c);
    const names = decodeSafetensors(m.weights).tensors.map((t) => t.name);
    assertEquals(names.includes("lm_head.weight"), !tied);
    assertEquals(decodeSafetensors(m.weights).metadata.format, "pt");
    const back = await loadHfModel(m.config, m.weights);
    assertEquals(back.config, c);
    assertEquals(back.meta, m.meta);
    assert(
      new Uint8Array(back.params.buffer).every((b, i) => b === new Uint8Array(m.params.buffer)[i]),
      "parameters are not bit-identical",
    );
  }
});

Deno.test("loadHfModel refuses corrupted or mismatched files with one line", async () => {
  const c = presetConfig("tiny");
  const m = model(c);
  const flipped = m.weights.slice();
  flipped[flipped.length - 5] ^= 1;
  await assertRejects(
    () => loadHfModel(m.config, flipped),
    ExportError,
    "./model.safetensors: corrupted: the tensors hash to",
  );
  await assertRejects(
    () => loadHfModel(m.config, m.weights.subarray(0, 100)),
    ExportError,
    "./model.safetensors: safetensors:",
  );
  await assertRejects(
    () => loadHfModel("{", m.weights),
    ExportError,
    "./config.json: not valid JSON",
  );
  const edit = (f: (j: Record<string, unknown>) => void) => {
    const j = JSON.parse(m.config);
    f(j);
    return JSON.stringify(j);
  };
  await assertRejects(
    () => loadHfModel(edit((j) => j.hidden_act = "gelu"), m.weights),
    ExportError,
    '"hidden_act" is "gelu", this model needs "silu"',
  );
  await assertRejects(
    () => loadHfModel(edit((j) => delete j.rope_theta), m.weights),
    ExportError,
    '"rope_theta" is missing',
  );
  await assertRejects(
    () => loadHfModel(edit((j) => j.num_key_value_heads = 3), m.weights),
    ExportError,
    "num_attention_heads 4 is not a multiple of num_key_value_heads 3",
  );
  await assertRejects(
    () => loadHfModel(edit((j) => j.extra = 1), m.weights),
    ExportError,
    'unknown field "extra"',
  );
  await assertRejects(
    () => loadHfModel(edit((j) => j.intermediate_size = 192), m.weights),
    ExportError,
    'tensor "model.layers.0.mlp.gate_proj.weight" has shape [176,64], config.json needs [192,64]',
  );
  await assertRejects(
    () => loadHfModel(edit((j) => j.tie_word_embeddings = false), m.weights),
    ExportError,
    'tensor "lm_head.weight" is missing',
  );
  const file = decodeSafetensors(m.weights);
  const extra = encodeSafetensors([...file.tensors, {
    name: "x",
    shape: [1],
    data: new Float32Array(1),
  }]);
  await assertRejects(
    () => loadHfModel(m.config, extra),
    ExportError,
    'tensor "x" is not a parameter',
  );
});
