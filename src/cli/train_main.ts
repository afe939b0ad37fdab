/**
 * `deno task train`: trains a LLaMA-style model on one machine and shows progress.
 *
 *   deno task train [--preset tiny|small|base] [--config model.json] [--corpus PATH ...]
 *                   [--tokenizer tokenizer.json] [--steps N] [--batch B] [--lr LR] [--seed S]
 *                   [--gpu dawn|wgpu] [--log-every N]
 */
import { openRuntime } from "../kernels/open_runtime.ts";
import { adapterLabel } from "../gpu/device.ts";
import { ConfigError, type ModelConfig, presetConfig, validateModelConfig } from "../model/config.ts";
import { paramLayout } from "../model/params.ts";
import { ByteTokenizer } from "../data/byte_tokenizer.ts";
import { parseHfTokenizer } from "../data/hf_tokenizer.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import { loadCorpus } from "../data/load_corpus.ts";
import { splitTokens } from "../data/sampler.ts";
import { DataError } from "../data/errors.ts";
import { DEFAULT_TRAIN, trainLocal } from "../train/train_loop.ts";
import { numberFlag, parseFlags, runCli, UsageError } from "./cli.ts";

/** A positive integer. */
const INTEGER = { integer: true };

async function readText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read ${what} (${(e as Error).name})`);
  }
}

async function main() {
  const a = parseFlags({
    args: Deno.args,
    options: {
      preset: { type: "string", default: "tiny" },
      config: { type: "string" },
      corpus: { type: "string", multiple: true, default: [] },
      tokenizer: { type: "string" },
      steps: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      seed: { type: "string" },
      gpu: { type: "string", default: "auto" },
      "log-every": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  }, "see --help").values;
  if (a.help) {
    console.log(
      "usage: deno task train [--preset tiny|small|base] [--config model.json] [--corpus PATH ...]\n" +
        "       [--tokenizer tokenizer.json] [--steps N] [--batch B] [--lr LR] [--seed S] [--gpu dawn|wgpu]",
    );
    return;
  }
  if (a.gpu !== "auto" && a.gpu !== "dawn" && a.gpu !== "wgpu") {
    throw new UsageError(`--gpu must be dawn or wgpu, got "${a.gpu}"`);
  }
  const tokenizer: Tokenizer = a.tokenizer
    ? parseHfTokenizer(await readText(a.tokenizer, "tokenizer"), a.tokenizer)
    : new ByteTokenizer();
  let model: ModelConfig;
  if (a.config) {
    const text = await readText(a.config, "model config");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`${a.config}: not valid JSON (${(e as Error).message})`);
    }
    model = validateModelConfig(json, a.config);
    if (model.vocabSize !== tokenizer.vocabSize) {
      throw new ConfigError(
        `${a.config}: vocabSize ${model.vocabSize} does not match the tokenizer's ${tokenizer.vocabSize}`,
      );
    }
  } else {
    model = { ...presetConfig(a.preset!), vocabSize: tokenizer.vocabSize };
  }
  const opts = {
    ...DEFAULT_TRAIN,
    model,
    steps: numberFlag("steps", a.steps, DEFAULT_TRAIN.steps, INTEGER),
    batch: numberFlag("batch", a.batch, DEFAULT_TRAIN.batch, INTEGER),
    lr: numberFlag("lr", a.lr, DEFAULT_TRAIN.lr, { integer: false }),
    seed: numberFlag("seed", a.seed, DEFAULT_TRAIN.seed, INTEGER),
  };
  const logEvery = numberFlag("log-every", a["log-every"], 10, INTEGER);

  const corpus = await loadCorpus(a.corpus!, tokenizer);
  const { train } = splitTokens(corpus.tokens);
  const rt = await openRuntime(a.gpu as "auto" | "dawn" | "wgpu");
  const params = paramLayout(model).count;
  console.log(`webloco train · adapter ${adapterLabel(rt.adapter)}`);
  console.log(
    `model ${a.config ?? a.preset} · ${(params / 1e6).toFixed(2)}M parameters · ${model.nLayers} layers × d${model.dModel}` +
      ` · context ${model.context} · batch ${opts.batch}`,
  );
  console.log(
    `corpus ${corpus.sources.join(", ")} · ${corpus.tokens.length.toLocaleString("en")} tokens (${tokenizer.name})`,
  );
  let tokens = 0, seconds = 0, first = NaN, last = NaN;
  for await (const r of trainLocal(rt, train, opts)) {
    tokens += opts.batch * model.context;
    seconds += (opts.batch * model.context) / r.tokensPerSec;
    if (r.step === 1) first = r.loss;
    last = r.loss;
    if (r.step === 1 || r.step % logEvery === 0 || r.step === opts.steps) {
      console.log(
        `step ${String(r.step).padStart(5)}/${opts.steps} · loss ${r.loss.toFixed(4)} · ` +
          `${Math.round(r.tokensPerSec).toLocaleString("en")} tok/s · lr ${r.lr.toExponential(2)} · ` +
          `|g| ${r.gradNorm.toFixed(3)}`,
      );
    }
  }
  console.log(
    `done · loss ${first.toFixed(3)} → ${last.toFixed(3)} · ${tokens.toLocaleString("en")} tokens in ` +
      `${seconds.toFixed(1)} s (${Math.round(tokens / seconds).toLocaleString("en")} tok/s)`,
  );
}

await runCli(main);
