/**
 * A run's genesis: everything peers must agree on before the first window (model, tokenizer,
 * data, optimizer parameters, timing, validators, bootstrap peers). Its canonical JSON
 * encoding hashes to the run id, which every signed message carries, so a peer with another
 * genesis cannot join by mistake. No `Deno.*` here; `genesis_file.ts` reads files.
 *
 * @module
 */

import { sha256Sync } from "../util/hash.ts";
import { ConfigError, type ModelConfig, validateModelConfig } from "../model/config.ts";
import { MAX_TILE_SIZE } from "../reference/sparseloco/tiles.ts";
import type { IndexMode } from "../codec/update_codec.ts";
import { publicKeyFromAddress } from "../identity/address.ts";
import { canonicalJson } from "../codec/canonical_json.ts";
import { MAX_CONTRIBUTORS_LIMIT } from "../codec/messages.ts";
import { isMultiaddrText } from "../codec/multiaddr_text.ts";
import { GAUNTLET_DEFAULTS, type GauntletSpec } from "./gauntlet_spec.ts";
import {
  GAUNTLET_BOUNDS,
  MAX_BOOTSTRAP,
  MAX_CORPUS_FILES,
  MAX_VALIDATORS,
  optionalFields,
  requiredFields,
} from "./genesis_schema.ts";

/** The genesis format version this module reads and writes. */
export const GENESIS_VERSION = 1;

/** A file the run depends on: where to find it and the SHA-256 it must have. */
export interface FileRef {
  /** Path relative to the genesis file's folder, or a URL. */
  path: string;
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
  /**
   * The file's length, when the genesis declares it (absent in older genesis files, whose run
   * id stays); a download refuses a source that announces another length before fetching.
   */
  bytes?: number;
}

/** `"bytes"`: one token per UTF-8 byte (vocab 256); else a Hugging Face tokenizer.json. */
export type TokenizerSpec = "bytes" | FileRef;

/** Where the training data comes from and how batches are drawn. */
export interface DataSpec {
  /** `"default"`: the corpus embedded in `data/`; else the files, concatenated in order. */
  corpus: "default" | FileRef[];
  /** The data seed of batch(peer, window, step) (uint32). */
  seed: number;
  /** Sequences per inner step per peer (B). */
  batch: number;
  /** Trailing fraction of the token stream kept for validation, in [0, 1). */
  validFraction: number;
  /**
   * Span mode: tokens of the one contiguous stretch of the training stream that all batches of
   * a peer in a window are drawn from (start chosen by seed, peer and window), so what a peer
   * was given is recognisable by content (the assignment test, README "Trust"). Absent: every
   * sequence at a uniform offset of the stream (so a genesis without it keeps its run id).
   */
  span?: number;
}

/** Inner AdamW and its learning-rate schedule (see `train/trainer.ts`, `optim/lr_schedule.ts`). */
export interface InnerSpec {
  /** Peak learning rate. */
  lr: number;
  /** Linear warm-up, in inner steps. */
  warmup: number;
  /** Inner step at which the cosine decay reaches `minRatio`·lr. */
  totalSteps: number;
  /** Final learning rate as a fraction of `lr`, in [0, 1]. */
  minRatio: number;
  /** AdamW first-moment decay, in [0, 1). */
  beta1: number;
  /** AdamW second-moment decay, in [0, 1). */
  beta2: number;
  /** AdamW epsilon, > 0. */
  eps: number;
  /** Decoupled weight decay (matrices only), ≥ 0. */
  weightDecay: number;
  /** Global gradient-norm clip. */
  gradClip: number;
}

/** SparseLoCo outer optimizer and compression (see `optim/sparseloco/`). */
export interface SparseLocoSpec {
  /** Most inner steps per window. */
  H: number;
  /** Error-feedback decay β, in [0, 1). */
  beta: number;
  /** Entries kept per tile. */
  k: number;
  /** Outer learning rate α. */
  alpha: number;
  /** Index coding on the wire: "packed" fixed-width (mode 0) or "rice" gaps (mode 1). */
  indexMode: "packed" | "rice";
  /** Largest tile side for tensors of rank ≥ 2. */
  maxSide: number;
  /** Chunk length for 1-D tensors. */
  chunk: number;
  /** 2-bit quantization range, in standard deviations. */
  rangeSigmas: number;
}

/** A run's genesis (format version 1). Every field is required: nothing is left to defaults in code. */
export interface Genesis {
  /** Format version: 1. */
  version: 1;
  /** Run name: 1 to 64 of A–Z a–z 0–9 . _ - (starting with a letter or digit). */
  name: string;
  /** Start of window 0, in ms since the Unix epoch. */
  genesisTime: number;
  /** Window length in ms. */
  windowMs: number;
  /** The model's shape (`model/config.ts`). */
  model: ModelConfig;
  /** The tokenizer. */
  tokenizer: TokenizerSpec;
  /** The data and how batches are drawn. */
  data: DataSpec;
  /** Inner optimizer. */
  inner: InnerSpec;
  /** Outer optimizer and compression. */
  sparseloco: SparseLocoSpec;
  /** Most contributors a round record may select. */
  maxContributors: number;
  /** SS58 addresses of the keys whose round records count. */
  validators: string[];
  /** Multiaddrs to dial first. */
  bootstrap: string[];
  /** A checkpoint every this many windows. */
  checkpointInterval: number;
  /**
   * The validator's scoring parameters that differ from GAUNTLET.md's defaults; absent when
   * none do (so a genesis without it keeps its run id). Read it through {@linkcode gauntletOf}.
   */
  gauntlet?: Partial<GauntletSpec>;
  /**
   * How rounds follow each other; absent means today's rounds (so a genesis without it keeps
   * its run id). Read it through {@linkcode outerDelayOf}.
   */
  rounds?: RoundsSpec;
  /**
   * Several validators agree on each record (docs/VALIDATORS.md); absent means a record signed
   * by any one validator counts (so a genesis without it keeps its run id). Read it through
   * {@linkcode quorumOf}.
   */
  quorum?: QuorumSpec;
}

/** How several validators agree on a window's record. */
export interface QuorumSpec {
  /** Distinct validators whose votes a record needs (a majority of them at least). */
  votes: number;
  /** Delay between one proposer's turn and the next one's, after the window's deadline (ms). */
  fallbackMs: number;
}

/** The quorum rules of a run, or null when one validator's signature makes a record count. */
export function quorumOf(genesis: Genesis): QuorumSpec | null {
  return genesis.quorum ?? null;
}

/** How rounds follow each other. */
export interface RoundsSpec {
  /**
   * Windows between an update's window and the outer step that applies it: 0, peers wait for
   * window w's record before training w + 1; 1, peers train w + 1 from θ_w + A_{w−1} while
   * window w's updates are fetched, scored and aggregated, and apply record w at the boundary
   * w + 1 → w + 2 (the one-window-delayed outer step, `ModelChain`).
   */
  outerDelay: number;
}

/** The outer delay of a run (0 unless the genesis says `rounds.outerDelay`). */
export function outerDelayOf(genesis: Genesis): 0 | 1 {
  return genesis.rounds?.outerDelay === 1 ? 1 : 0;
}

/**
 * A bad genesis: one line, `<source>: <field> <what is wrong>, got <value>`. A
 * {@linkcode ConfigError}, so the CLIs print it without a stack trace.
 */
export class GenesisError extends ConfigError {
  /** "GenesisError". */
  override name = "GenesisError";
}

type Obj = Record<string, unknown>;

/** Validation context: the source name for messages. */
class Check {
  constructor(readonly source: string) {}

  fail(field: string, what: string, got?: unknown): never {
    const shown = got === undefined ? "" : `, got ${show(got)}`;
    throw new GenesisError(`${this.source}: ${field ? `${field} ` : ""}${what}${shown}`);
  }

  object(
    v: unknown,
    field: string,
    keys: readonly string[],
    optional: readonly string[] = [],
  ): Obj {
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      this.fail(field, "must be an object", v);
    }
    const o = v as Obj;
    const known = new Set([...keys, ...optional]);
    for (const k of Object.keys(o)) {
      if (!known.has(k)) {
        throw new GenesisError(`${this.source}: unknown field "${join(field, k)}"`);
      }
    }
    for (const k of keys) {
      if (!(k in o) || o[k] === undefined) {
        throw new GenesisError(`${this.source}: missing field "${join(field, k)}"`);
      }
    }
    return o;
  }

  int(v: unknown, field: string, min: number, max: number): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.fail(field, `must be an integer in [${min}, ${max}]`, v);
    }
    return v as number;
  }

  /** A finite number in [min, max); `openMin` excludes min, `closedMax` includes max. */
  num(
    v: unknown,
    field: string,
    min: number,
    max: number,
    o: { openMin?: boolean; closedMax?: boolean } = {},
  ): number {
    const ok = typeof v === "number" && Number.isFinite(v) &&
      (o.openMin ? v > min : v >= min) && (o.closedMax ? v <= max : v < max);
    if (!ok) {
      const range = max === Infinity
        ? (o.openMin ? `a number > ${min}` : `a number ≥ ${min}`)
        : `in ${o.openMin ? "(" : "["}${min}, ${max}${o.closedMax ? "]" : ")"}`;
      this.fail(field, `must be ${range}`, v);
    }
    return v as number;
  }

  str(v: unknown, field: string, re: RegExp, what: string): string {
    if (typeof v !== "string" || !re.test(v)) this.fail(field, `must be ${what}`, v);
    return v as string;
  }

  array(v: unknown, field: string, min: number, max: number): unknown[] {
    if (!Array.isArray(v)) this.fail(field, "must be an array", v);
    const a = v as unknown[];
    if (a.length < min || a.length > max) {
      this.fail(field, `must have ${min} to ${max} entries, got ${a.length}`);
    }
    return a;
  }

  fileRef(v: unknown, field: string): FileRef {
    const o = this.object(v, field, requiredFields("tokenizer"), optionalFields("tokenizer"));
    const bytes = o.bytes === undefined
      ? {}
      : { bytes: this.int(o.bytes, `${field}.bytes`, 0, Number.MAX_SAFE_INTEGER) };
    return {
      path: this.str(
        o.path,
        `${field}.path`,
        PATH_RE,
        "a path or URL of 1 to 1024 characters (no control characters)",
      ),
      sha256: this.str(o.sha256, `${field}.sha256`, SHA256_RE, "64 lower-case hex digits"),
      ...bytes,
    };
  }
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
// deno-lint-ignore no-control-regex
const PATH_RE = /^[^\x00-\x1f\x7f]{1,1024}$/;
/** Latest time a JS Date can hold. */
const MAX_TIME_MS = 8.64e15;

function join(field: string, key: string): string {
  return field ? `${field}.${key}` : key;
}

function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** The gauntlet parameters of a run: GAUNTLET.md's defaults, overridden by the genesis. */
export function gauntletOf(genesis: Genesis): GauntletSpec {
  return { ...GAUNTLET_DEFAULTS, ...genesis.gauntlet };
}

/**
 * Checks a parsed genesis strictly (exact field set, types, ranges, cross-field rules) and
 * returns a fresh copy holding exactly the known fields. `source` names the file in errors:
 * `genesis.json: sparseloco.beta must be in [0, 1), got 1.5`. Throws {@linkcode GenesisError}.
 */
export function validateGenesis(value: unknown, source = "genesis"): Genesis {
  const c = new Check(source);
  const g = c.object(value, "", requiredFields(""), optionalFields(""));
  if (g.version !== GENESIS_VERSION) c.fail("version", `must be ${GENESIS_VERSION}`, g.version);
  const name = c.str(
    g.name,
    "name",
    NAME_RE,
    "1 to 64 of A-Z a-z 0-9 . _ - starting with a letter or digit",
  );
  const genesisTime = c.int(g.genesisTime, "genesisTime", 0, MAX_TIME_MS);
  const windowMs = c.int(g.windowMs, "windowMs", 100, 86_400_000);

  let model: ModelConfig;
  try {
    model = { ...validateModelConfig(g.model, `${source}: model`) };
  } catch (e) {
    if (e instanceof ConfigError) throw new GenesisError(e.message);
    throw e;
  }

  const tokenizer: TokenizerSpec = g.tokenizer === "bytes"
    ? "bytes"
    : typeof g.tokenizer === "object"
    ? c.fileRef(g.tokenizer, "tokenizer")
    : c.fail("tokenizer", `must be "bytes" or {"path", "sha256"}`, g.tokenizer);
  if (tokenizer === "bytes" && model.vocabSize < 256) {
    c.fail("model.vocabSize", `must be at least 256 for the "bytes" tokenizer`, model.vocabSize);
  }

  const d = c.object(g.data, "data", requiredFields("data"), optionalFields("data"));
  const corpus = d.corpus === "default"
    ? "default" as const
    : Array.isArray(d.corpus)
    ? c.array(d.corpus, "data.corpus", 1, MAX_CORPUS_FILES).map((f, i) =>
      c.fileRef(f, `data.corpus[${i}]`)
    )
    : c.fail("data.corpus", `must be "default" or an array of {"path", "sha256"}`, d.corpus);
  const data: DataSpec = {
    corpus,
    seed: c.int(d.seed, "data.seed", 0, 0xffffffff),
    batch: c.int(d.batch, "data.batch", 1, 65536),
    validFraction: c.num(d.validFraction, "data.validFraction", 0, 1),
    ...(d.span === undefined
      ? {}
      : { span: c.int(d.span, "data.span", model.context + 1, Number.MAX_SAFE_INTEGER) }),
  };

  const n = c.object(g.inner, "inner", requiredFields("inner"));
  const inner: InnerSpec = {
    lr: c.num(n.lr, "inner.lr", 0, Infinity, { openMin: true }),
    warmup: c.int(n.warmup, "inner.warmup", 0, 1e12),
    totalSteps: c.int(n.totalSteps, "inner.totalSteps", 1, 1e12),
    minRatio: c.num(n.minRatio, "inner.minRatio", 0, 1, { closedMax: true }),
    beta1: c.num(n.beta1, "inner.beta1", 0, 1),
    beta2: c.num(n.beta2, "inner.beta2", 0, 1),
    eps: c.num(n.eps, "inner.eps", 0, Infinity, { openMin: true }),
    weightDecay: c.num(n.weightDecay, "inner.weightDecay", 0, Infinity),
    gradClip: c.num(n.gradClip, "inner.gradClip", 0, Infinity, { openMin: true }),
  };

  const s = c.object(g.sparseloco, "sparseloco", requiredFields("sparseloco"));
  const maxSide = c.int(s.maxSide, "sparseloco.maxSide", 1, Math.sqrt(MAX_TILE_SIZE));
  const sparseloco: SparseLocoSpec = {
    H: c.int(s.H, "sparseloco.H", 1, 1_000_000),
    beta: c.num(s.beta, "sparseloco.beta", 0, 1),
    k: c.int(s.k, "sparseloco.k", 1, maxSide * maxSide),
    alpha: c.num(s.alpha, "sparseloco.alpha", 0, Infinity, { openMin: true }),
    indexMode: s.indexMode === "packed" || s.indexMode === "rice"
      ? s.indexMode
      : c.fail("sparseloco.indexMode", `must be "packed" or "rice"`, s.indexMode),
    maxSide,
    chunk: c.int(s.chunk, "sparseloco.chunk", 1, MAX_TILE_SIZE),
    rangeSigmas: c.num(s.rangeSigmas, "sparseloco.rangeSigmas", 0, Infinity, { openMin: true }),
  };

  const maxContributors = c.int(g.maxContributors, "maxContributors", 1, MAX_CONTRIBUTORS_LIMIT);

  const validators = c.array(g.validators, "validators", 1, MAX_VALIDATORS).map((v, i) => {
    if (typeof v !== "string") c.fail(`validators[${i}]`, "must be an SS58 address", v);
    try {
      publicKeyFromAddress(v as string);
    } catch {
      c.fail(`validators[${i}]`, "must be an SS58 address", v);
    }
    return v as string;
  });
  const keys = new Set<string>();
  validators.forEach((v, i) => {
    const k = publicKeyFromAddress(v).join(",");
    if (keys.has(k)) c.fail(`validators[${i}]`, "repeats an earlier validator's key", v);
    keys.add(k);
  });

  const bootstrap = c.array(g.bootstrap, "bootstrap", 0, MAX_BOOTSTRAP).map((a, i) => {
    if (!isMultiaddrText(a)) {
      c.fail(`bootstrap[${i}]`, 'must be a multiaddr ("/…", printable ASCII, ≤ 255 chars)', a);
    }
    return a as string;
  });

  const checkpointInterval = c.int(g.checkpointInterval, "checkpointInterval", 1, 1_000_000);

  let gauntlet: Partial<GauntletSpec> | undefined;
  if (g.gauntlet !== undefined) {
    const keys = optionalFields("gauntlet") as (keyof GauntletSpec)[];
    const o = c.object(g.gauntlet, "gauntlet", [], keys);
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      if (o[k] === undefined) continue;
      const b = GAUNTLET_BOUNDS[k], f = `gauntlet.${k}`;
      if (b === "factors") {
        out[k] = c.array(o[k], f, 1, 16).map((x, i) =>
          c.num(x, `${f}[${i}]`, 0, 1, { closedMax: true })
        );
      } else {
        out[k] = b[2]
          ? c.int(o[k], f, b[0], b[1])
          : c.num(o[k], f, b[0], b[1], { closedMax: true });
      }
    }
    gauntlet = out as Partial<GauntletSpec>;
  }

  let rounds: RoundsSpec | undefined;
  if (g.rounds !== undefined) {
    const r = c.object(g.rounds, "rounds", requiredFields("rounds"));
    rounds = { outerDelay: c.int(r.outerDelay, "rounds.outerDelay", 0, 1) };
  }

  let quorum: QuorumSpec | undefined;
  if (g.quorum !== undefined) {
    const q = c.object(g.quorum, "quorum", requiredFields("quorum"));
    const n = validators.length;
    quorum = {
      votes: c.int(q.votes, "quorum.votes", Math.floor(n / 2) + 1, n),
      fallbackMs: c.int(q.fallbackMs, "quorum.fallbackMs", 100, 3_600_000),
    };
  }

  return {
    version: GENESIS_VERSION,
    name,
    genesisTime,
    windowMs,
    model,
    tokenizer,
    data,
    inner,
    sparseloco,
    maxContributors,
    validators,
    bootstrap,
    checkpointInterval,
    ...(gauntlet === undefined ? {} : { gauntlet }),
    ...(rounds === undefined ? {} : { rounds }),
    ...(quorum === undefined ? {} : { quorum }),
  };
}

/** Parses and validates genesis JSON text; malformed JSON is a {@linkcode GenesisError} too. */
export function parseGenesis(text: string, source = "genesis"): Genesis {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new GenesisError(
      `${source}: not valid JSON (${(e as Error).message.replace(/\s*\n\s*/g, " ")})`,
    );
  }
  return validateGenesis(v, source);
}

/** The canonical encoding of a genesis: UTF-8 of its canonical JSON (sorted keys, no spaces). */
export function canonicalGenesis(genesis: Genesis): Uint8Array {
  return new TextEncoder().encode(canonicalJson(validateGenesis(genesis)));
}

/**
 * The run id: SHA-256 of the canonical encoding (32 bytes). Validates first, so only a valid
 * genesis has a run id; the same content in any key order or layout has the same id.
 */
export function runIdOf(genesis: Genesis): Uint8Array {
  return sha256Sync(canonicalGenesis(genesis));
}

/** The update codec's index mode for a genesis' `sparseloco.indexMode`. */
export function indexModeOf(spec: SparseLocoSpec): IndexMode {
  return spec.indexMode === "packed" ? 0 : 1;
}
