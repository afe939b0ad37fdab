/**
 * The genesis of a local run (the swarm, tests, a first try): the tiny model on the embedded
 * corpus with the byte tokenizer and the reference SparseLoCo settings.
 *
 * @module
 */

import { type ModelConfig, presetConfig } from "../model/config.ts";
import { INNER_DEFAULTS } from "../train/trainer.ts";
import { LR_DEFAULTS } from "../optim/lr_schedule.ts";
import { DEFAULT_COMPRESS_OPTIONS } from "../reference/sparseloco/compress.ts";
import {
  type DataSpec,
  type Genesis,
  type InnerSpec,
  type QuorumSpec,
  type RoundsSpec,
  type SparseLocoSpec,
  type TokenizerSpec,
  validateGenesis,
} from "./genesis.ts";

/** Options of {@linkcode localGenesis}; anything not given takes the local defaults. */
export interface LocalGenesisOptions {
  /** SS58 addresses of the validators (at least one). */
  validators: string[];
  /** Start of window 0 (ms since the epoch); the caller picks it so the result is reproducible. */
  genesisTime: number;
  /** Multiaddrs of the peers to dial first (default none). */
  bootstrap?: string[];
  /** Default "local". */
  name?: string;
  /** Default 30 s. */
  windowMs?: number;
  /** Default the `tiny` preset. */
  model?: ModelConfig;
  /** Default "bytes". */
  tokenizer?: TokenizerSpec;
  /** Fields replacing {@linkcode LOCAL_DATA}'s. */
  data?: Partial<DataSpec>;
  /** Fields replacing {@linkcode LOCAL_INNER}'s. */
  inner?: Partial<InnerSpec>;
  /** Fields replacing {@linkcode LOCAL_SPARSELOCO}'s. */
  sparseloco?: Partial<SparseLocoSpec>;
  /** Default 20. */
  maxContributors?: number;
  /** Default every 10 windows. */
  checkpointInterval?: number;
  /** Default none (today's rounds, outer delay 0). */
  rounds?: RoundsSpec;
  /** Default none (one validator's signature makes a record count). */
  quorum?: QuorumSpec;
}

/** Data defaults: the embedded corpus, seed 1, 4 sequences per step, 10% held out. */
export const LOCAL_DATA: Readonly<DataSpec> = Object.freeze({
  corpus: "default",
  seed: 1,
  batch: 4,
  validFraction: 0.1,
});

/** Inner defaults: the reference AdamW, lr 3e-3 with 30 warm-up steps (the tiny model's). */
export const LOCAL_INNER: Readonly<InnerSpec> = Object.freeze({
  lr: 3e-3,
  warmup: 30,
  totalSteps: 30_000,
  minRatio: LR_DEFAULTS.minRatio,
  ...INNER_DEFAULTS,
});

/** SparseLoCo defaults: the reference run's (H 30, β 0.95, k 64 of 64×64, α 1, 6σ), Rice indices. */
export const LOCAL_SPARSELOCO: Readonly<SparseLocoSpec> = Object.freeze({
  H: 30,
  beta: DEFAULT_COMPRESS_OPTIONS.beta,
  k: DEFAULT_COMPRESS_OPTIONS.k,
  alpha: 1,
  indexMode: "rice",
  maxSide: DEFAULT_COMPRESS_OPTIONS.maxSide,
  chunk: DEFAULT_COMPRESS_OPTIONS.chunk,
  rangeSigmas: DEFAULT_COMPRESS_OPTIONS.rangeSigmas,
});

/**
 * A complete, validated genesis for a local run. Throws `GenesisError` when an option is
 * invalid (the field is named as in a genesis file).
 *
 * @example
 * ```ts
 * const g = localGenesis({ validators: [validator.address], genesisTime: Date.now() + 5000 });
 * const runId = runIdOf(g);
 * ```
 */
export function localGenesis(o: LocalGenesisOptions): Genesis {
  return validateGenesis({
    version: 1,
    name: o.name ?? "local",
    genesisTime: o.genesisTime,
    windowMs: o.windowMs ?? 30_000,
    model: o.model ?? presetConfig("tiny"),
    tokenizer: o.tokenizer ?? "bytes",
    data: { ...LOCAL_DATA, ...o.data },
    inner: { ...LOCAL_INNER, ...o.inner },
    sparseloco: { ...LOCAL_SPARSELOCO, ...o.sparseloco },
    maxContributors: o.maxContributors ?? 20,
    validators: o.validators,
    bootstrap: o.bootstrap ?? [],
    checkpointInterval: o.checkpointInterval ?? 10,
    ...(o.rounds === undefined ? {} : { rounds: o.rounds }),
    ...(o.quorum === undefined ? {} : { quorum: o.quorum }),
  }, "local genesis");
}
