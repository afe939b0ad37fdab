/**
 * LLaMA model configuration: validated once, with one-line errors that say what is wrong.
 */

/** Shape of a LLaMA-style decoder. */
export interface ModelConfig {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  /** Hidden size of the SwiGLU MLP. */
  ffnHidden: number;
  /** Maximum sequence length (the RoPE table covers it). */
  context: number;
  ropeTheta: number;
  normEps: number;
  /** The output projection reuses the embedding matrix. */
  tiedEmbeddings: boolean;
}

/** A user mistake in a configuration (printed as one line, no stack trace). */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Named model sizes. `tiny` trains in seconds on SwiftShader; the others need a real GPU or the
 * CPU backend's patience. Memory per step: src/model/memory.ts and the README.
 */
export const PRESETS: Record<string, ModelConfig> = {
  tiny: {
    vocabSize: 256, dModel: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnHidden: 176,
    context: 64, ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true,
  },
  small: {
    vocabSize: 256, dModel: 128, nLayers: 4, nHeads: 4, nKvHeads: 2, ffnHidden: 352,
    context: 128, ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true,
  },
  base: {
    vocabSize: 256, dModel: 384, nLayers: 6, nHeads: 6, nKvHeads: 2, ffnHidden: 1024,
    context: 256, ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true,
  },
  // LLaMA proportions on the 4096-token BPE vocabulary of data/kjv_bpe_4096.json: head size 64,
  // grouped-query attention, SwiGLU hidden ≈ 8/3·d rounded to 128, tied embeddings. The small
  // vocabulary leaves almost all parameters in the layers (the embedding is 2–10%).
  "20m": {
    vocabSize: 4096, dModel: 512, nLayers: 6, nHeads: 8, nKvHeads: 4, ffnHidden: 1408,
    context: 512, ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true,
  },
  // The browser target: fits WebGPU's default 128 MiB binding only once parameters are split.
  "125m": {
    vocabSize: 4096, dModel: 768, nLayers: 20, nHeads: 12, nKvHeads: 4, ffnHidden: 2048,
    context: 1024, ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: true,
  },
  // The server target: LLaMA-3.2-1B's shape (d 2048, 16 layers, 32 heads, 8 KV heads, 8192).
  "1b": {
    vocabSize: 4096, dModel: 2048, nLayers: 16, nHeads: 32, nKvHeads: 8, ffnHidden: 8192,
    context: 2048, ropeTheta: 500000, normEps: 1e-5, tiedEmbeddings: true,
  },
};

/** The tokenizer each BPE preset is made for (repository-relative); byte presets have none. */
export const PRESET_TOKENIZERS: Record<string, string> = {
  "20m": "data/kjv_bpe_4096.json",
  "125m": "data/kjv_bpe_4096.json",
  "1b": "data/kjv_bpe_4096.json",
};

const INT_FIELDS = ["vocabSize", "dModel", "nLayers", "nHeads", "nKvHeads", "ffnHidden", "context"] as const;

/** Checks a configuration (from JSON or code) and returns it typed; throws ConfigError. */
export function validateModelConfig(value: unknown, where = "model config"): ModelConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(`${where}: expected an object`);
  }
  const c = value as Record<string, unknown>;
  const known = new Set<string>([...INT_FIELDS, "ropeTheta", "normEps", "tiedEmbeddings"]);
  for (const k of Object.keys(c)) {
    if (!known.has(k)) throw new ConfigError(`${where}: unknown field "${k}"`);
  }
  for (const k of INT_FIELDS) {
    const v = c[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
      throw new ConfigError(`${where}: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
    }
  }
  for (const k of ["ropeTheta", "normEps"] as const) {
    const v = c[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      throw new ConfigError(`${where}: ${k} must be a positive number, got ${JSON.stringify(v)}`);
    }
  }
  if (typeof c.tiedEmbeddings !== "boolean") {
    throw new ConfigError(`${where}: tiedEmbeddings must be true or false, got ${JSON.stringify(c.tiedEmbeddings)}`);
  }
  const cfg = c as unknown as ModelConfig;
  if (cfg.dModel % cfg.nHeads !== 0) {
    throw new ConfigError(`${where}: dModel ${cfg.dModel} is not divisible by nHeads ${cfg.nHeads}`);
  }
  if (cfg.nHeads % cfg.nKvHeads !== 0) {
    throw new ConfigError(`${where}: nHeads ${cfg.nHeads} is not a multiple of nKvHeads ${cfg.nKvHeads}`);
  }
  const headDim = cfg.dModel / cfg.nHeads;
  if (headDim % 2 !== 0) {
    throw new ConfigError(`${where}: head dimension dModel/nHeads = ${headDim} must be even for RoPE`);
  }
  return cfg;
}

/** Looks up a preset by name; throws ConfigError listing the known ones. */
export function presetConfig(name: string): ModelConfig {
  const c = PRESETS[name];
  if (!c) throw new ConfigError(`unknown model preset "${name}" (known: ${Object.keys(PRESETS).join(", ")})`);
  return { ...c };
}
