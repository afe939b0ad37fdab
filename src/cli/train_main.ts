/**
 * `deno task train`: trains a LLaMA-style model on one machine, reports the training and
 * held-out loss, and saves checkpoints that `--resume` continues bit for bit.
 *
 *   deno task train [--preset tiny|small|base|20m|125m|1b | --config model.json] [--tokenizer tokenizer.json]
 *                   [--corpus PATH ...] [--format text|jsonl|bin] [--jsonl-field NAME]
 *                   [--steps N] [--batch B] [--lr LR] [--warmup N] [--seed S]
 *                   [--backend auto|dawn|wgpu|cpu] [--recompute] [--log-every N] [--eval-every N]
 *                   [--eval-batches N] [--save-every N] [--out DIR | --resume DIR]
 *
 * The held-out loss is the trainer's validation loss (the mean over `--eval-batches` fixed
 * batches of the last 10% of the tokens, which training never sees). `--out DIR` writes the
 * run's settings (train.json) and a checkpoint every `--save-every` steps, at the end and on
 * Ctrl-C (src/train/train_dir.ts); `--resume DIR` takes everything from there and continues
 * from the newest checkpoint, so a run stopped and resumed ends with the model of one never
 * stopped.
 *
 * @module
 */
import { CheckpointError } from "../codec/checkpoint.ts";
import { ByteTokenizer } from "../data/byte_tokenizer.ts";
import type { CorpusFormat } from "../data/corpus.ts";
import { DataError } from "../data/errors.ts";
import { parseHfTokenizer } from "../data/hf_tokenizer.ts";
import { loadCorpus } from "../data/load_corpus.ts";
import { Sampler, splitTokens } from "../data/sampler.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import {
  ConfigError,
  type ModelConfig,
  PRESET_TOKENIZERS,
  presetConfig,
  validateModelConfig,
} from "../model/config.ts";
import {
  checkBufferLimits,
  checkHostMemory,
  describeMemory,
  memoryNeeds,
} from "../model/memory.ts";
import { paramLayout } from "../model/params.ts";
import { tokensHash, TrainDir, TrainDirError, type TrainSettings } from "../train/train_dir.ts";
import { DEFAULT_TRAIN, LocalTraining, type TrainState } from "../train/train_loop.ts";
import { BACKEND_USAGE, openBackend, parseBackend } from "./backend.ts";
import { numberFlag, parseFlags, runCli, UsageError } from "./cli.ts";

const USAGE =
  "usage: deno task train [--preset tiny|small|base|20m|125m|1b | --config model.json] " +
  "[--tokenizer tokenizer.json] [--corpus PATH ...] [--format text|jsonl|bin] [--jsonl-field NAME] " +
  "[--steps N] [--batch B] [--lr LR] [--warmup N] [--seed S] " +
  `[${BACKEND_USAGE}] [--recompute] [--log-every N] [--eval-every N] [--eval-batches N] [--save-every N] ` +
  "[--out DIR | --resume DIR]";

/** A positive integer. */
const INTEGER = { integer: true };
/** A non-negative integer (0: never). */
const COUNT = { integer: true, min: 0 };

/** Flags that fix a run's steps: a resumed run keeps the ones in its train.json. */
const RUN_FLAGS = [
  "preset",
  "config",
  "tokenizer",
  "corpus",
  "format",
  "jsonl-field",
  "batch",
  "lr",
  "warmup",
  "seed",
] as const;

/** The held-out part of the tokens (as `deno task peer` splits a run's corpus). */
const VALID_FRACTION = 0.1;

async function readText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read ${what} (${(e as Error).name})`);
  }
}

async function loadTokenizer(path: string | null): Promise<Tokenizer> {
  return path === null
    ? new ByteTokenizer()
    : parseHfTokenizer(await readText(path, "tokenizer"), path);
}

async function loadModel(
  preset: string | undefined,
  config: string | undefined,
  tokenizer: Tokenizer,
): Promise<ModelConfig> {
  if (config === undefined) {
    return { ...presetConfig(preset ?? "tiny"), vocabSize: tokenizer.vocabSize };
  }
  if (preset !== undefined) throw new UsageError("--preset and --config exclude each other");
  const text = await readText(config, "model config");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${config}: not valid JSON (${(e as Error).message})`);
  }
  const model = validateModelConfig(json, config);
  if (model.vocabSize !== tokenizer.vocabSize) {
    throw new ConfigError(
      `${config}: vocabSize ${model.vocabSize} does not match the tokenizer's ${tokenizer.vocabSize}`,
    );
  }
  return model;
}

function parseFormat(text: string | undefined): CorpusFormat | null {
  if (text === undefined) return null;
  if (text !== "text" && text !== "jsonl" && text !== "bin") {
    throw new UsageError(`--format must be text, jsonl or bin, got "${text}"`);
  }
  return text;
}

function parseArgs(args: string[]) {
  return parseFlags({
    args,
    options: {
      preset: { type: "string" },
      config: { type: "string" },
      corpus: { type: "string", multiple: true },
      format: { type: "string" },
      "jsonl-field": { type: "string" },
      tokenizer: { type: "string" },
      steps: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      warmup: { type: "string" },
      seed: { type: "string" },
      backend: { type: "string", default: "auto" },
      recompute: { type: "boolean" },
      "log-every": { type: "string" },
      "eval-every": { type: "string" },
      "eval-batches": { type: "string" },
      "save-every": { type: "string" },
      out: { type: "string" },
      resume: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  }, "see --help").values;
}

type Flags = ReturnType<typeof parseArgs>;

/** The settings of a new run from the flags (the token fields are filled in by the caller). */
async function newSettings(a: Flags, tokenizer: Tokenizer): Promise<Omit<TrainSettings, "tokens">> {
  const steps = numberFlag("steps", a.steps, DEFAULT_TRAIN.steps, INTEGER);
  return {
    format: "webloco-train/1",
    modelSource: a.config ?? a.preset ?? "tiny",
    model: await loadModel(a.preset, a.config, tokenizer),
    tokenizer: a.tokenizer ?? null,
    corpus: a.corpus ?? [],
    corpusFormat: parseFormat(a.format),
    jsonlField: a["jsonl-field"] ?? "text",
    validFraction: VALID_FRACTION,
    batch: numberFlag("batch", a.batch, DEFAULT_TRAIN.batch, INTEGER),
    seed: numberFlag("seed", a.seed, DEFAULT_TRAIN.seed, COUNT),
    lr: numberFlag("lr", a.lr, DEFAULT_TRAIN.lr, { integer: false }),
    warmup: numberFlag("warmup", a.warmup, DEFAULT_TRAIN.warmup, COUNT),
    weightDecay: DEFAULT_TRAIN.weightDecay,
    gradClip: DEFAULT_TRAIN.gradClip,
    steps,
    evalEvery: numberFlag("eval-every", a["eval-every"], 50, COUNT),
    evalBatches: numberFlag("eval-batches", a["eval-batches"], 8, INTEGER),
    saveEvery: numberFlag("save-every", a["save-every"], 100, COUNT),
  };
}

/** Opens the run to resume and applies the flags that may change (length, reporting, saving). */
async function resumeDir(a: Flags, dir: string): Promise<TrainDir> {
  for (const k of RUN_FLAGS) {
    if (a[k] !== undefined) {
      throw new UsageError(
        `--${k} cannot change a resumed run (its settings are in ${dir}/train.json)`,
      );
    }
  }
  const run = await TrainDir.open(dir);
  const s = run.settings;
  await run.update({
    steps: numberFlag("steps", a.steps, s.steps, INTEGER),
    evalEvery: numberFlag("eval-every", a["eval-every"], s.evalEvery, COUNT),
    evalBatches: numberFlag("eval-batches", a["eval-batches"], s.evalBatches, INTEGER),
    saveEvery: numberFlag("save-every", a["save-every"], s.saveEvery, COUNT),
  });
  return run;
}

async function main() {
  const a = parseArgs(Deno.args);
  if (a.help) {
    console.log(USAGE);
    return;
  }
  if (a.out !== undefined && a.resume !== undefined) {
    throw new UsageError("--out starts a run and --resume continues one: give one of them");
  }
  const backend = parseBackend(a.backend!);
  const logEvery = numberFlag("log-every", a["log-every"], 10, INTEGER);

  let dir: TrainDir | null = null;
  let settings: TrainSettings;
  let from: TrainState | undefined;
  let tokenizer: Tokenizer;
  let tokens: Uint32Array;
  let sources: string[];
  if (a.resume !== undefined) {
    dir = await resumeDir(a, a.resume);
    settings = dir.settings;
    tokenizer = await loadTokenizer(settings.tokenizer);
    ({ tokens, sources } = await loadCorpus(settings.corpus, tokenizer, {
      format: settings.corpusFormat ?? undefined,
      jsonlField: settings.jsonlField,
    }));
    const hash = await tokensHash(tokens);
    if (tokens.length !== settings.tokens.count || hash !== settings.tokens.sha256) {
      throw new DataError(
        `${a.resume}: the corpus is not the one the run started with (${tokens.length} tokens, ` +
          `${hash.slice(0, 12)}…; train.json says ${settings.tokens.count}, ${
            settings.tokens.sha256.slice(0, 12)
          }…)`,
      );
    }
    const steps = await dir.checkpoints();
    if (steps.length > 0) {
      from = await dir.load(paramLayout(settings.model), steps[steps.length - 1]);
    }
  } else {
    // A BPE preset (20m, 125m, 1b) trains with its own tokenizer unless --tokenizer says otherwise.
    const presetTok = a.config === undefined ? PRESET_TOKENIZERS[a.preset ?? "tiny"] : undefined;
    if (a.tokenizer === undefined && presetTok !== undefined) {
      a.tokenizer = new URL(`../../${presetTok}`, import.meta.url).pathname;
    }
    tokenizer = await loadTokenizer(a.tokenizer ?? null);
    const partial = await newSettings(a, tokenizer);
    ({ tokens, sources } = await loadCorpus(partial.corpus, tokenizer, {
      format: partial.corpusFormat ?? undefined,
      jsonlField: partial.jsonlField,
    }));
    settings = { ...partial, tokens: { count: tokens.length, sha256: await tokensHash(tokens) } };
    if (a.out !== undefined) dir = await TrainDir.create(a.out, settings);
  }

  const { model, batch, steps } = settings;
  const layout = paramLayout(model);
  const { train, valid } = splitTokens(tokens, settings.validFraction);
  const validSampler = new Sampler(valid, { batch, context: model.context, seed: settings.seed });
  // --recompute (activation checkpointing) changes memory, not results: not a run setting.
  const recompute = a.recompute ?? false;
  const needs = memoryNeeds(model, "train", batch, model.context, { recompute });
  for (const line of describeMemory(settings.modelSource, needs)) console.log(line);
  const what = `model ${settings.modelSource}`;
  const ops = await openBackend(
    backend,
    (line) => console.log(line),
    (limits, software) => {
      checkBufferLimits(what, needs, limits);
      // A software adapter's buffers are host memory (split buffers let 1b past its bindings).
      if (software) checkHostMemory(what, needs, Deno.systemMemoryInfo().available);
    },
  );
  if (ops.name.startsWith("cpu")) checkHostMemory(what, needs, Deno.systemMemoryInfo().total);
  console.log(
    `model ${settings.modelSource} · ${
      (layout.count / 1e6).toFixed(2)
    }M parameters · ${model.nLayers} layers × d${model.dModel}` +
      ` · context ${model.context} · batch ${batch}`,
  );
  console.log(
    `corpus ${sources.join(", ")} · ${
      tokens.length.toLocaleString("en")
    } tokens (${tokenizer.name}) · ` +
      `held out ${valid.length.toLocaleString("en")}`,
  );
  const run = new LocalTraining(ops, train, { ...DEFAULT_TRAIN, ...settings }, {
    from,
    recompute,
  });
  if (from !== undefined) console.log(`resumed ${dir!.path(from.step)} at step ${from.step}`);
  if (run.step >= steps) {
    console.log(`the run is complete at step ${run.step} (a larger --steps extends it)`);
    return;
  }

  let tokensSeen = 0, seconds = 0, first = NaN, last = NaN, held = NaN;
  // With a run folder, Ctrl-C (SIGINT) stops after the step under way and saves it, so that
  // --resume loses nothing; a second Ctrl-C exits at once.
  let interrupted = false;
  const onInterrupt = () => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
  };
  if (dir !== null) Deno.addSignalListener("SIGINT", onInterrupt);
  let saved = run.step;
  while (run.step < steps && !interrupted) {
    const r = await run.next();
    // The CPU backend's steps resolve as microtasks: give the event loop (the signal) a turn.
    await new Promise((resolve) => setTimeout(resolve, 0));
    tokensSeen += batch * model.context;
    seconds += (batch * model.context) / r.tokensPerSec;
    if (Number.isNaN(first)) first = r.loss;
    last = r.loss;
    const evaluate = settings.evalEvery > 0 &&
      (r.step % settings.evalEvery === 0 || r.step === steps);
    if (evaluate) held = await run.trainer.validationLoss(validSampler, settings.evalBatches);
    if (evaluate || r.step === 1 || r.step % logEvery === 0 || r.step === steps) {
      console.log(
        `step ${String(r.step).padStart(5)}/${steps} · loss ${r.loss.toFixed(4)}` +
          (evaluate ? ` · held-out ${held.toFixed(4)}` : "") +
          ` · ${Math.round(r.tokensPerSec).toLocaleString("en")} tok/s · lr ${
            r.lr.toExponential(2)
          } · ` +
          `|g| ${r.gradNorm.toFixed(3)}`,
      );
    }
    if (
      dir !== null &&
      ((settings.saveEvery > 0 && r.step % settings.saveEvery === 0) || r.step === steps)
    ) {
      console.log(`saved ${await dir.save(layout, await run.state())}`);
      saved = r.step;
    }
  }
  if (dir !== null) Deno.removeSignalListener("SIGINT", onInterrupt);
  if (interrupted) {
    if (saved !== run.step) console.log(`saved ${await dir!.save(layout, await run.state())}`);
    console.log(`interrupted at step ${run.step}/${steps}; --resume ${dir!.dir} continues`);
    return;
  }
  console.log(
    `done · loss ${first.toFixed(3)} → ${last.toFixed(3)}` +
      (Number.isNaN(held) ? "" : ` · held-out ${held.toFixed(3)}`) +
      ` · ${tokensSeen.toLocaleString("en")} tokens in ${seconds.toFixed(1)} s ` +
      `(${Math.round(tokensSeen / seconds).toLocaleString("en")} tok/s)`,
  );
}

await runCli(async () => {
  try {
    await main();
  } catch (e) {
    // A run folder's or checkpoint's problem is the user's to fix: one line, no stack.
    if (e instanceof TrainDirError || e instanceof CheckpointError) throw new UsageError(e.message);
    throw e;
  }
});
