/**
 * Deno-only: the folder of a local run (`deno task train --out DIR`, `--resume DIR`):
 *
 * ```
 * DIR/train.json                    the run's settings (TrainSettings), canonical JSON
 * DIR/step-00000100.safetensors     a checkpoint after 100 steps (train_checkpoint.ts)
 * ```
 *
 * Every file is written atomically, so a run stopped at any moment leaves its last complete
 * checkpoint, and `--resume` continues from the newest one.
 *
 * @module
 */

import { canonicalJson } from "../codec/canonical_json.ts";
import type { CorpusFormat } from "../data/corpus.ts";
import { type ModelConfig, validateModelConfig } from "../model/config.ts";
import type { ParamLayout } from "../model/params.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { decodeTrainCheckpoint, encodeTrainCheckpoint } from "./train_checkpoint.ts";
import type { TrainState } from "./train_loop.ts";

/** The value of `format` in train.json. */
export const TRAIN_SETTINGS_FORMAT = "webloco-train/1";

/** What a local run was started with: enough to load its data again and to continue it. */
export interface TrainSettings {
  format: typeof TRAIN_SETTINGS_FORMAT;
  /** The preset's name or the model config's path (for messages). */
  modelSource: string;
  model: ModelConfig;
  /** Path of the tokenizer.json, or null for the 256 bytes. */
  tokenizer: string | null;
  /** Corpus paths as given (none: the embedded corpus). */
  corpus: string[];
  /** `--format`, or null: each file's extension. */
  corpusFormat: CorpusFormat | null;
  jsonlField: string;
  /** Size and SHA-256 of the token stream, checked on resume. */
  tokens: { count: number; sha256: string };
  validFraction: number;
  batch: number;
  seed: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  gradClip: number;
  /** Steps of the whole run: the learning-rate schedule's length. */
  steps: number;
  evalEvery: number;
  evalBatches: number;
  saveEvery: number;
}

/** A run folder that cannot be created, read or resumed. */
export class TrainDirError extends Error {
  override name = "TrainDirError";
}

/** The settings that fix every step's result (not how long, how often to report or to save). */
function identity(s: TrainSettings): unknown {
  const { steps: _s, evalEvery: _e, evalBatches: _b, saveEvery: _v, ...rest } = s;
  return rest;
}

/** SHA-256 (hex) of a token stream's little-endian uint32 bytes. */
export async function tokensHash(tokens: Uint32Array): Promise<string> {
  return hex(await sha256(new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength)));
}

const CHECKPOINT = /^step-(\d{8})\.safetensors$/;

/** A run folder: its settings, and its checkpoints by step. */
export class TrainDir {
  private constructor(
    readonly dir: string,
    private current: TrainSettings,
    /** The id checkpoints carry: SHA-256 of the settings that fix the steps' results. */
    readonly runId: string,
  ) {}

  /** The run's settings. */
  get settings(): TrainSettings {
    return this.current;
  }

  private static async make(dir: string, settings: TrainSettings): Promise<TrainDir> {
    const id = hex(await sha256(new TextEncoder().encode(canonicalJson(identity(settings)))));
    return new TrainDir(dir, settings, id);
  }

  /** Starts a run in `dir` (created if missing); refuses a folder that holds one. */
  static async create(dir: string, settings: TrainSettings): Promise<TrainDir> {
    const path = `${dir}/train.json`;
    if (await exists(path)) {
      throw new TrainDirError(
        `${dir}: already holds a run (train.json); --resume ${dir} continues it, or choose another --out`,
      );
    }
    await Deno.mkdir(dir, { recursive: true }).catch((e) => {
      throw new TrainDirError(`${dir}: cannot create the folder (${(e as Error).message})`);
    });
    const run = await TrainDir.make(dir, settings);
    await run.writeSettings();
    return run;
  }

  /** Opens the run in `dir`; throws {@linkcode TrainDirError} when there is none. */
  static async open(dir: string): Promise<TrainDir> {
    const path = `${dir}/train.json`;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound
        ? "no train.json (not a run folder)"
        : (e as Error).message;
      throw new TrainDirError(`${dir}: cannot resume: ${why}`);
    }
    return await TrainDir.make(dir, parseSettings(text, path));
  }

  /** Changes the settings that do not fix the steps' results (length, reporting, saving). */
  async update(
    change: Partial<Pick<TrainSettings, "steps" | "evalEvery" | "evalBatches" | "saveEvery">>,
  ): Promise<void> {
    this.current = { ...this.current, ...change };
    await this.writeSettings();
  }

  private async writeSettings(): Promise<void> {
    await writeFileAtomic(`${this.dir}/train.json`, canonicalJson(this.current) + "\n");
  }

  /** Steps of the checkpoints in the folder, ascending. */
  async checkpoints(): Promise<number[]> {
    const steps: number[] = [];
    for await (const e of Deno.readDir(this.dir)) {
      const m = e.isFile ? CHECKPOINT.exec(e.name) : null;
      if (m) steps.push(Number(m[1]));
    }
    return steps.sort((a, b) => a - b);
  }

  /** The checkpoint file of `step`. */
  path(step: number): string {
    return `${this.dir}/step-${String(step).padStart(8, "0")}.safetensors`;
  }

  /** Writes `state` as the checkpoint of its step; returns the path. */
  async save(layout: ParamLayout, state: TrainState): Promise<string> {
    const path = this.path(state.step);
    await writeFileAtomic(path, await encodeTrainCheckpoint(layout, state, this.runId));
    return path;
  }

  /** Reads the checkpoint of `step`, checked to be of this run and uncorrupted. */
  async load(layout: ParamLayout, step: number): Promise<TrainState> {
    const path = this.path(step);
    const state = await decodeTrainCheckpoint(await Deno.readFile(path), layout, this.runId)
      .catch((e) => {
        throw new TrainDirError(`${path}: ${(e as Error).message}`);
      });
    if (state.step !== step) {
      throw new TrainDirError(`${path}: holds step ${state.step}, not ${step}`);
    }
    return state;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Parses train.json; throws {@linkcode TrainDirError} naming the first bad field. */
function parseSettings(text: string, path: string): TrainSettings {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new TrainDirError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== "object" || v === null || v.format !== TRAIN_SETTINGS_FORMAT) {
    throw new TrainDirError(`${path}: not a ${TRAIN_SETTINGS_FORMAT} file`);
  }
  const bad = (field: string) => new TrainDirError(`${path}: "${field}" is missing or malformed`);
  const num = (k: string): number => {
    if (typeof v[k] !== "number" || !Number.isFinite(v[k])) throw bad(k);
    return v[k];
  };
  const str = (k: string): string => {
    if (typeof v[k] !== "string") throw bad(k);
    return v[k];
  };
  let model: ModelConfig;
  try {
    model = validateModelConfig(v.model, `${path}: model`);
  } catch (e) {
    throw new TrainDirError((e as Error).message);
  }
  const corpus = v.corpus;
  if (!Array.isArray(corpus) || !corpus.every((p) => typeof p === "string")) throw bad("corpus");
  const format = v.corpusFormat;
  if (format !== null && format !== "text" && format !== "jsonl" && format !== "bin") {
    throw bad("corpusFormat");
  }
  const t = v.tokens as Partial<TrainSettings["tokens"]> | undefined;
  if (typeof t?.count !== "number" || typeof t.sha256 !== "string") throw bad("tokens");
  return {
    format: TRAIN_SETTINGS_FORMAT,
    modelSource: str("modelSource"),
    model,
    tokenizer: v.tokenizer === null ? null : str("tokenizer"),
    corpus,
    corpusFormat: format,
    jsonlField: str("jsonlField"),
    tokens: { count: t.count, sha256: t.sha256 },
    validFraction: num("validFraction"),
    batch: num("batch"),
    seed: num("seed"),
    lr: num("lr"),
    warmup: num("warmup"),
    weightDecay: num("weightDecay"),
    gradClip: num("gradClip"),
    steps: num("steps"),
    evalEvery: num("evalEvery"),
    evalBatches: num("evalBatches"),
    saveEvery: num("saveEvery"),
  };
}
