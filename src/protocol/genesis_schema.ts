/**
 * The genesis format as data: every field of every object the validator reads, whether it is
 * optional, and what it means. `validateGenesis` takes its field sets from here (an unknown
 * field is an error, a missing required one too), and docs/GENESIS.md's field table is
 * {@linkcode genesisFieldTable} (a test compares them), so the format and its documentation
 * cannot drift apart.
 *
 * @module
 */

import { GAUNTLET_DEFAULTS, type GauntletSpec } from "./gauntlet_spec.ts";
import { MAX_CONTRIBUTORS_LIMIT } from "../codec/messages.ts";
import { MAX_TILE_SIZE } from "../reference/sparseloco/tiles.ts";

/** Most validators a genesis names. */
export const MAX_VALIDATORS = 16;
/** Most bootstrap addresses a genesis lists. */
export const MAX_BOOTSTRAP = 64;
/** Most corpus files a genesis lists. */
export const MAX_CORPUS_FILES = 4096;

/** One field: what it means (ranges as the validator enforces them) and whether it may be absent. */
export interface FieldDoc {
  /** One line of Markdown. */
  doc: string;
  /** Absent means "the default" and keeps the run id of a genesis without it. */
  optional?: boolean;
}

/** Bounds of every gauntlet parameter: [min, max, integer?] (max included), or a factor list. */
export const GAUNTLET_BOUNDS: {
  [K in keyof GauntletSpec]: GauntletSpec[K] extends number ? [number, number, boolean]
    : "factors";
} = {
  evalBudget: [1, 1024, true],
  bins: [1, 64, true],
  evalBatches: [1, 64, true],
  evalStep: [0, 1e3, false],
  passRatio: [0, 1, false],
  maxNormRatio: [1, 1e12, false],
  ratingBeta: [1e-6, 1e6, false],
  ratingTau: [0, 1e6, false],
  floorScore: [-1e12, 0, false],
  assignBatches: [1, 1024, true],
  assignRefs: [1, 64, true],
  assignZ: [-1e6, 1e6, false],
  assignPassZ: [0, 1e6, false],
  assignSprtMu: [0, 1e3, false],
  assignSprtAlpha: [1e-9, 0.5, false],
  assignWindows: [1, 1024, true],
  assignCap: [1, 1024, true],
  assignWarmup: [0, 1e9, true],
  indicatorEma: [0, 1, false],
  indicatorMin: [-1, 1, false],
  warmupWindows: [0, 1e9, true],
  missFactors: "factors",
  historyWindows: [1, 1024, true],
  absentShare: [0, 1, false],
  negativeFactor: [0, 1, false],
  negativeStreak: [1, 1024, true],
  copyHalve: [0, 1, false],
  copyReset: [0, 1, false],
  copyBan: [0, 1, false],
  copyCosine: [0, 1, false],
  copyBaseline: [0, 1, false],
  banWindows: [0, 1e9, true],
  creditTop: [0, 1024, true],
  creditTopShare: [0, 1, false],
  creditNext: [0, 1024, true],
  creditNextShare: [0, 1, false],
  reserves: [0, 1024, true],
};

const FILE_REF: Record<string, FieldDoc> = {
  path: {
    doc: "where the file is: relative to the genesis file's folder, absolute, or an http(s) URL " +
      "(1 to 1024 characters, no control characters); a node without it fetches it from the run",
  },
  sha256: { doc: "SHA-256 of the file's bytes, 64 lower-case hex digits: its name on the network" },
  bytes: {
    doc:
      "the file's length (integer in [0, 2^53 − 1]); a download refuses a source announcing another",
    optional: true,
  },
};

function gauntletDocs(): Record<string, FieldDoc> {
  const out: Record<string, FieldDoc> = {};
  for (const [k, b] of Object.entries(GAUNTLET_BOUNDS)) {
    const dflt = JSON.stringify(GAUNTLET_DEFAULTS[k as keyof GauntletSpec]);
    const range = b === "factors"
      ? "1 to 16 numbers in [0, 1]"
      : `${b[2] ? "integer" : "number"} in [${b[0]}, ${b[1]}]`;
    out[k] = { doc: `${range}, default ${dflt} (GAUNTLET.md)`, optional: true };
  }
  return out;
}

/**
 * The objects of a genesis and their fields. `tokenizer` and `data.corpus[]` are either a
 * word ("bytes", "default") or a {@linkcode FILE_REF} object.
 */
export const GENESIS_SCHEMA: Readonly<Record<string, Readonly<Record<string, FieldDoc>>>> = {
  "": {
    version: { doc: "format version: `1`" },
    name: { doc: "run name: 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit" },
    genesisTime: { doc: "start of window 0, ms since the Unix epoch (integer in [0, 8.64e15])" },
    windowMs: { doc: "window length in ms (integer in [100, 86400000])" },
    model: { doc: "the model's shape (below)" },
    tokenizer: {
      doc: '`"bytes"` (one token per UTF-8 byte, vocabulary 256) or a file reference to a ' +
        "Hugging Face `tokenizer.json`",
    },
    data: { doc: "the corpus and how batches are drawn (below)" },
    inner: { doc: "the inner AdamW and its learning-rate schedule (below)" },
    sparseloco: { doc: "the outer optimizer and the compression (below)" },
    maxContributors: {
      doc:
        `most contributors a round record may select (integer in [1, ${MAX_CONTRIBUTORS_LIMIT}])`,
    },
    validators: {
      doc:
        `SS58 addresses of the keys whose round records count (1 to ${MAX_VALIDATORS}, distinct keys)`,
    },
    bootstrap: { doc: `multiaddrs (\`/ip4/…/tcp/…/p2p/…\`) dialed first (0 to ${MAX_BOOTSTRAP})` },
    checkpointInterval: { doc: "a checkpoint every this many windows (integer in [1, 1000000])" },
    gauntlet: {
      doc: "the validator's scoring parameters that differ from GAUNTLET.md's defaults (below)",
      optional: true,
    },
    rounds: {
      doc: "how rounds follow each other (below); absent = undelayed rounds",
      optional: true,
    },
    quorum: {
      doc: "several validators agree on each record (below, docs/VALIDATORS.md); absent = " +
        "every record signed by one validator counts",
      optional: true,
    },
  },
  model: {
    vocabSize: {
      doc:
        "vocabulary size (positive integer; ≥ 256 for the bytes tokenizer, the tokenizer's otherwise)",
    },
    dModel: { doc: "embedding width (positive integer, divisible by `nHeads`, even head size)" },
    nLayers: { doc: "decoder layers (positive integer)" },
    nHeads: { doc: "attention heads (positive integer)" },
    nKvHeads: { doc: "key/value heads (positive integer dividing `nHeads`)" },
    ffnHidden: { doc: "hidden size of the SwiGLU MLP (positive integer)" },
    context: { doc: "sequence length trained on (positive integer)" },
    ropeTheta: { doc: "RoPE base (positive number)" },
    normEps: { doc: "RMSNorm epsilon (positive number)" },
    tiedEmbeddings: { doc: "whether the output projection reuses the embedding (`true`/`false`)" },
  },
  tokenizer: FILE_REF,
  data: {
    corpus: {
      doc:
        `\`"default"\` (the corpus embedded in \`data/\`) or 1 to ${MAX_CORPUS_FILES} file references` +
        " (`.txt`, `.jsonl`, `.bin`), concatenated in order",
    },
    seed: {
      doc: "the data seed of batch(peer, window, step), and of θ₀ (integer in [0, 2^32 − 1])",
    },
    batch: { doc: "sequences per inner step per peer, B (integer in [1, 65536])" },
    validFraction: {
      doc: "trailing fraction of the token stream held out for validation, in [0, 1)",
    },
    span: {
      doc: "span mode: all batches of a peer in a window come from one stretch of this many " +
        "consecutive training tokens, its start drawn from (seed, peer, window), so the " +
        "assignment test can recognise them (integer in [context + 1, 2^53 − 1]; longer than " +
        "the stream = the whole stream); absent = every sequence anywhere in the stream",
      optional: true,
    },
  },
  "data.corpus[]": FILE_REF,
  inner: {
    lr: { doc: "peak learning rate (number > 0)" },
    warmup: { doc: "linear warm-up in inner steps (integer in [0, 1e12])" },
    totalSteps: {
      doc: "inner step at which the cosine decay reaches `minRatio`·lr (integer in [1, 1e12])",
    },
    minRatio: { doc: "final learning rate as a fraction of `lr`, in [0, 1]" },
    beta1: { doc: "AdamW first-moment decay, in [0, 1)" },
    beta2: { doc: "AdamW second-moment decay, in [0, 1)" },
    eps: { doc: "AdamW epsilon (number > 0)" },
    weightDecay: { doc: "decoupled weight decay of the matrices (number ≥ 0)" },
    gradClip: { doc: "global gradient-norm clip (number > 0)" },
  },
  sparseloco: {
    H: { doc: "most inner steps per window (integer in [1, 1000000])" },
    beta: { doc: "error-feedback decay β, in [0, 1)" },
    k: { doc: "entries kept per tile (integer in [1, maxSide²])" },
    alpha: { doc: "outer learning rate α (number > 0)" },
    indexMode: { doc: '`"packed"` (fixed-width indices) or `"rice"` (Golomb–Rice gaps)' },
    maxSide: {
      doc: `largest tile side for tensors of rank ≥ 2 (integer in [1, ${
        Math.sqrt(MAX_TILE_SIZE)
      }])`,
    },
    chunk: { doc: `chunk length of 1-D tensors (integer in [1, ${MAX_TILE_SIZE}])` },
    rangeSigmas: { doc: "2-bit quantization range in standard deviations (number > 0)" },
  },
  gauntlet: gauntletDocs(),
  rounds: {
    outerDelay: {
      doc: "`0`: peers wait for window w's record before training w+1; `1`: the one-window-" +
        "delayed outer step, θ_{w+1} = θ_w + A_{w−1}, so peers never wait for a record (integer in [0, 1])",
    },
  },
  quorum: {
    votes: {
      doc: "validators that must sign (vote for) a record before it is applied: an integer " +
        "from a majority of `validators` (⌊n/2⌋ + 1) to n",
    },
    fallbackMs: {
      doc: "how long after the window's deadline each next validator in the proposer order " +
        "(`validators[(w + i) mod n]`) waits before it proposes (integer in [100, 3600000])",
    },
  },
};

/** The required fields of one object of the schema. */
export function requiredFields(section: string): string[] {
  return Object.entries(GENESIS_SCHEMA[section]).filter(([, f]) => !f.optional).map(([k]) => k);
}

/** The optional fields of one object of the schema. */
export function optionalFields(section: string): string[] {
  return Object.entries(GENESIS_SCHEMA[section]).filter(([, f]) => f.optional).map(([k]) => k);
}

/** Every field as its path in a genesis (`data.corpus[].sha256`), in schema order. */
export function fieldPaths(): string[] {
  const out: string[] = [];
  for (const [section, fields] of Object.entries(GENESIS_SCHEMA)) {
    for (const k of Object.keys(fields)) out.push(section === "" ? k : `${section}.${k}`);
  }
  return out;
}

/** The Markdown field table of docs/GENESIS.md: one row per field, in schema order. */
export function genesisFieldTable(): string {
  const rows = ["| Field | Required | Meaning |", "| --- | --- | --- |"];
  for (const [section, fields] of Object.entries(GENESIS_SCHEMA)) {
    for (const [k, f] of Object.entries(fields)) {
      const path = section === "" ? k : `${section}.${k}`;
      rows.push(`| \`${path}\` | ${f.optional ? "no" : "yes"} | ${f.doc.replaceAll("|", "\\|")} |`);
    }
  }
  return rows.join("\n") + "\n";
}
