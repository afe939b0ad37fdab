/**
 * `deno task genesis`: writes the genesis of a run with every parameter, checks a genesis
 * file, or prints the field table of docs/GENESIS.md.
 *
 *   deno task genesis --out FILE --validator ADDRESS [--validator …] [options, see USAGE]
 *   deno task genesis --check FILE [--run-id HEX]
 *   deno task genesis --doc
 *
 * Anything not given takes the local run's value (`protocol/local_genesis.ts`); the genesis
 * validator judges every value, so its errors name the genesis field. File paths in the
 * genesis are written relative to the genesis file's folder, with their SHA-256 and length.
 * The summary goes to stderr, the run id to stdout.
 *
 * @module
 */
import { relative, resolve } from "node:path";
import { numberFlag, parseFlags, runCli, UsageError } from "./cli.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { type FileRef, type Genesis, runIdOf, validateGenesis } from "../protocol/genesis.ts";
import { genesisFieldTable } from "../protocol/genesis_schema.ts";
import { genesisLimitProblems } from "../protocol/genesis_limits.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { type ModelConfig, PRESETS } from "../model/config.ts";
import { parseHfTokenizer } from "../data/hf_tokenizer.ts";
import { readCorpusFiles } from "../data/load_corpus.ts";
import { checkGenesisFile, summarizeGenesis } from "./genesis_file_check.ts";

/** Number flags: the genesis field each sets, and whether it is an integer. */
const NUMBER_FLAGS: Readonly<
  Record<string, readonly [section: string, key: string, int: boolean]>
> = {
  "window-ms": ["", "windowMs", true],
  "max-contributors": ["", "maxContributors", true],
  "checkpoint-interval": ["", "checkpointInterval", true],
  seed: ["data", "seed", true],
  batch: ["data", "batch", true],
  "valid-fraction": ["data", "validFraction", false],
  lr: ["inner", "lr", false],
  warmup: ["inner", "warmup", true],
  "total-steps": ["inner", "totalSteps", true],
  "min-ratio": ["inner", "minRatio", false],
  beta1: ["inner", "beta1", false],
  beta2: ["inner", "beta2", false],
  eps: ["inner", "eps", false],
  "weight-decay": ["inner", "weightDecay", false],
  "grad-clip": ["inner", "gradClip", false],
  H: ["sparseloco", "H", true],
  beta: ["sparseloco", "beta", false],
  k: ["sparseloco", "k", true],
  alpha: ["sparseloco", "alpha", false],
  "max-side": ["sparseloco", "maxSide", true],
  chunk: ["sparseloco", "chunk", true],
  "range-sigmas": ["sparseloco", "rangeSigmas", false],
};

const USAGE = `usage: deno task genesis --out FILE --validator ADDRESS [--validator …] [options]
  run         --name NAME  --start MS|ISO-DATE (default: now)  --window-ms MS  --bootstrap MULTIADDR …
              --max-contributors N  --checkpoint-interval N
  model       --model ${Object.keys(PRESETS).join("|")} (default tiny)
              --model-config FILE|JSON (fields over the preset; vocabSize follows the tokenizer)
  data        --tokenizer bytes|tokenizer.json  --corpus FILE|DIR … (.txt .jsonl .bin; default: embedded)
              --seed N  --batch B  --valid-fraction F
  inner       --lr --warmup --total-steps --min-ratio --beta1 --beta2 --eps --weight-decay --grad-clip
  sparseloco  --H --beta --k --alpha --index-mode packed|rice --max-side --chunk --range-sigmas
  gauntlet    --gauntlet FILE|JSON (scoring parameters that differ from GAUNTLET.md's)
       deno task genesis --check FILE [--run-id HEX]   (schema, run id, files at hand, limits)
       deno task genesis --doc                         (the field table of docs/GENESIS.md)`;

async function main(args: string[]): Promise<void> {
  const numbers = Object.fromEntries(
    Object.keys(NUMBER_FLAGS).map((f) => [f, { type: "string" as const }]),
  );
  const a = parseFlags({
    args,
    options: {
      out: { type: "string" },
      check: { type: "string" },
      "run-id": { type: "string" },
      doc: { type: "boolean" },
      validator: { type: "string", multiple: true, default: [] },
      bootstrap: { type: "string", multiple: true, default: [] },
      corpus: { type: "string", multiple: true, default: [] },
      name: { type: "string" },
      start: { type: "string" },
      model: { type: "string" },
      "model-config": { type: "string" },
      tokenizer: { type: "string" },
      "index-mode": { type: "string" },
      gauntlet: { type: "string" },
      ...numbers,
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  }, "see --help").values as Record<string, string | string[] | boolean | undefined>;
  if (a.help) return console.log(USAGE);
  // console.log writes synchronously: the process may exit right after main returns.
  if (a.doc) return console.log(genesisFieldTable().trimEnd());
  if (a.check !== undefined) {
    if (a.out !== undefined) throw new UsageError("--check and --out do not go together");
    return await check(a.check as string, a["run-id"] as string | undefined);
  }
  if (a.out === undefined) {
    throw new UsageError(`--out FILE, --check FILE or --doc is required (see --help)`);
  }
  const out = a.out as string;
  const validators = a.validator as string[];
  if (validators.length === 0) throw new UsageError("at least one --validator ADDRESS is required");

  const sections: Record<string, Record<string, number>> = {
    "": {},
    data: {},
    inner: {},
    sparseloco: {},
  };
  for (const [flag, [section, key, integer]] of Object.entries(NUMBER_FLAGS)) {
    const text = a[flag] as string | undefined;
    if (text !== undefined) {
      sections[section][key] = numberOf(flag, text, integer);
    }
  }
  const tokenizer = a.tokenizer === undefined || a.tokenizer === "bytes"
    ? null
    : await fileRef(a.tokenizer as string, out);
  const model = modelOf(
    a.model as string | undefined,
    a["model-config"] as string | undefined,
    tokenizer === null
      ? undefined
      : parseHfTokenizer(new TextDecoder().decode(tokenizer.bytes), a.tokenizer as string)
        .vocabSize,
  );
  const corpusPaths = a.corpus as string[];
  const corpus = corpusPaths.length === 0 ? "default" as const : await Promise.all(
    (await readCorpusFiles(corpusPaths)).map((f) => refOf(f.name, f.bytes, out)),
  );
  const top = sections[""];
  const base = localGenesis({
    validators,
    bootstrap: a.bootstrap as string[],
    name: a.name as string | undefined,
    windowMs: top.windowMs,
    genesisTime: startOf(a.start as string | undefined),
    model,
    tokenizer: tokenizer?.ref,
    data: { ...sections.data, corpus },
    inner: sections.inner,
    sparseloco: {
      ...sections.sparseloco,
      ...(a["index-mode"] === undefined ? {} : { indexMode: a["index-mode"] as "packed" | "rice" }),
    },
    maxContributors: top.maxContributors,
    checkpointInterval: top.checkpointInterval,
  });
  const gauntlet = a.gauntlet === undefined
    ? undefined
    : jsonArg("--gauntlet", a.gauntlet as string);
  const genesis: Genesis = gauntlet === undefined
    ? base
    : validateGenesis({ ...base, gauntlet }, "genesis");
  await Deno.mkdir(resolve(out, ".."), { recursive: true });
  await writeFileAtomic(out, JSON.stringify(genesis, null, 2) + "\n", { createNew: true })
    .catch((e) => {
      throw e instanceof Deno.errors.AlreadyExists
        ? new UsageError(`${out}: already exists; refusing to overwrite a genesis file`)
        : e;
    });
  console.error(`wrote ${out}`);
  for (const line of summarizeGenesis(genesis)) console.error(`  ${line}`);
  for (const p of genesisLimitProblems(genesis)) console.error(`warning: ${p}`);
  console.log(hex(runIdOf(genesis)));
}

/** `--check`: the summary and notes on stderr, one line per problem, the run id on stdout. */
async function check(path: string, runId: string | undefined): Promise<void> {
  const c = await checkGenesisFile(path, { runId });
  for (const line of summarizeGenesis(c.genesis)) console.error(`  ${line}`);
  for (const note of c.notes) console.error(`note: ${note}`);
  for (const p of c.problems) console.error(`problem: ${p}`);
  if (c.problems.length > 0) {
    throw new UsageError(`${path}: ${c.problems.length} problem(s)`);
  }
  console.error(`${path}: good`);
  console.log(c.runId);
}

/** The model: a preset, with fields from `--model-config` over it, and the tokenizer's vocabulary. */
function modelOf(
  preset: string | undefined,
  config: string | undefined,
  vocabSize: number | undefined,
): ModelConfig {
  const base = PRESETS[preset ?? "tiny"];
  if (base === undefined) {
    throw new UsageError(
      `--model must be one of ${Object.keys(PRESETS).join(", ")}, got "${preset}"`,
    );
  }
  const fields = config === undefined ? {} : jsonArg("--model-config", config);
  return { ...base, ...(vocabSize === undefined ? {} : { vocabSize }), ...fields } as ModelConfig;
}

/** A JSON object given inline (`{…}`) or as a file. */
function jsonArg(flag: string, text: string): Record<string, unknown> {
  let body = text;
  if (!text.trimStart().startsWith("{")) {
    try {
      body = Deno.readTextFileSync(text);
    } catch {
      throw new UsageError(`${flag}: not a JSON object nor a readable file: ${text.slice(0, 80)}`);
    }
  }
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (e) {
    throw new UsageError(`${flag}: not valid JSON (${(e as Error).message.split("\n")[0]})`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new UsageError(`${flag}: must be a JSON object`);
  }
  return v as Record<string, unknown>;
}

/** A number flag's value; its range is the genesis validator's to judge (it names the field). */
function numberOf(flag: string, text: string, integer: boolean): number {
  const n = text.trim() === "" ? NaN : Number(text);
  if (integer ? !Number.isSafeInteger(n) : !Number.isFinite(n)) {
    throw new UsageError(`--${flag} must be ${integer ? "an integer" : "a number"}, got "${text}"`);
  }
  return n;
}

/** `--start`: ms since the epoch or an ISO date; default now, rounded up to a second. */
function startOf(text: string | undefined): number {
  if (text === undefined) return Math.ceil(Date.now() / 1000) * 1000;
  if (/^\d+$/.test(text)) return numberFlag("start", text, 0, { integer: true, min: 0 });
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) {
    throw new UsageError(`--start must be ms since the epoch or an ISO date, got "${text}"`);
  }
  return ms;
}

async function fileRef(path: string, out: string): Promise<{ ref: FileRef; bytes: Uint8Array }> {
  const bytes = await Deno.readFile(path).catch(() => {
    throw new UsageError(`--tokenizer: cannot read ${path}`);
  });
  return { ref: await refOf(path, bytes, out), bytes };
}

/** A file reference relative to the genesis file's folder, with SHA-256 and length. */
async function refOf(path: string, bytes: Uint8Array, out: string): Promise<FileRef> {
  const rel = relative(resolve(out, ".."), resolve(path));
  return { path: rel, sha256: hex(await sha256(bytes)), bytes: bytes.length };
}

if (import.meta.main) await runCli(() => main(Deno.args));
