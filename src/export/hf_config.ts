/**
 * The model's shape as a Hugging Face `config.json` (`LlamaForCausalLM`), and back.
 *
 * Our decoder is exactly Transformers' LLaMA: RMSNorm before attention and MLP, rotate-half
 * RoPE over the whole head, grouped-query attention, SwiGLU (`silu`), no biases, no RoPE
 * scaling. So every field follows from {@linkcode ModelConfig}; the reader accepts only what
 * the writer would write for some configuration (anything else would be a model our forward
 * does not compute).
 *
 * @module
 */

import { type ModelConfig, validateModelConfig } from "../model/config.ts";
import { ExportError } from "./export_error.ts";

/** The fields of the `config.json` written for a configuration, in a stable order. */
export function hfConfig(c: ModelConfig): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: c.dModel,
    intermediate_size: c.ffnHidden,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.dModel / c.nHeads,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.context,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    rms_norm_eps: c.normEps,
    tie_word_embeddings: c.tiedEmbeddings,
    hidden_act: "silu",
    attention_bias: false,
    attention_dropout: 0.0,
    mlp_bias: false,
    pretraining_tp: 1,
    initializer_range: 0.02,
    // The runs train on raw token streams with no special tokens (see the model card).
    bos_token_id: null,
    eos_token_id: null,
    use_cache: true,
    torch_dtype: "float32",
    // Transformers.js loads onnx/model.onnx (fp32) instead of looking for a quantized file.
    "transformers.js_config": { dtype: "fp32" },
  };
}

/**
 * Reads a `config.json` (its text) back into a {@linkcode ModelConfig}. Throws
 * {@linkcode ExportError} (`<source>: <field> …`) unless it is, field for field, what
 * {@linkcode hfConfig} writes for that configuration.
 */
export function modelConfigFromHf(text: string, source: string): ModelConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ExportError(`${source}: not valid JSON`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ExportError(`${source}: expected a JSON object`);
  }
  const o = json as Record<string, unknown>;
  const fields: Record<keyof ModelConfig, string> = {
    vocabSize: "vocab_size",
    dModel: "hidden_size",
    nLayers: "num_hidden_layers",
    nHeads: "num_attention_heads",
    nKvHeads: "num_key_value_heads",
    ffnHidden: "intermediate_size",
    context: "max_position_embeddings",
    ropeTheta: "rope_theta",
    normEps: "rms_norm_eps",
    tiedEmbeddings: "tie_word_embeddings",
  };
  const ours: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(fields)) {
    if (!Object.hasOwn(o, key)) throw new ExportError(`${source}: "${key}" is missing`);
    ours[field] = o[key];
  }
  let config: ModelConfig;
  try {
    config = validateModelConfig(ours, source);
  } catch (e) {
    // Its messages name our fields; the file has Hugging Face's.
    const message = (e as Error).message.replace(
      /\b(vocabSize|dModel|nLayers|nHeads|nKvHeads|ffnHidden|context|ropeTheta|normEps|tiedEmbeddings)\b/g,
      (f) => fields[f as keyof ModelConfig],
    );
    throw new ExportError(message);
  }
  const expected = hfConfig(config);
  for (const [key, want] of Object.entries(expected)) {
    if (!Object.hasOwn(o, key)) throw new ExportError(`${source}: "${key}" is missing`);
    if (JSON.stringify(o[key]) !== JSON.stringify(want)) {
      throw new ExportError(
        `${source}: "${key}" is ${JSON.stringify(o[key])}, this model needs ${
          JSON.stringify(want)
        }`,
      );
    }
  }
  for (const key of Object.keys(o)) {
    if (!Object.hasOwn(expected, key) && key !== "transformers_version") {
      throw new ExportError(`${source}: unknown field "${key}"`);
    }
  }
  return config;
}
