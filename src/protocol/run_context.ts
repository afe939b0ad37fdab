/**
 * Everything a role derives from a run's genesis and nothing else: the run id, the window
 * clock, the model's flat layout and θ₀, the compression settings, and what incoming
 * messages and updates must match. Pure (no `Deno.*`), so a browser peer can use it too.
 *
 * @module
 */

import type { DecodeLimits, IndexMode } from "../codec/update_codec.ts";
import { initParams } from "../model/init.ts";
import { type ParamEntry, type ParamLayout, paramLayout } from "../model/params.ts";
import type { CompressOptions } from "../reference/sparseloco/compress.ts";
import { type Genesis, indexModeOf, runIdOf } from "./genesis.ts";
import type { VerifyOptions } from "../codec/messages.ts";
import { hex } from "../util/hex.ts";
import { TimeWindowClock, type WindowClock } from "./window_clock.ts";

/**
 * A round's announcements are accepted until this fraction of a window after the window
 * closes; peers wait for the round record from then on. 10% keeps idle time near the
 * reference run's ~5% once payload transfers are fast.
 */
export const ROUND_GRACE_FRACTION = 0.1;

/** The run as every role sees it. */
export interface RunContext {
  /** The validated genesis. */
  readonly genesis: Genesis;
  /** SHA-256 of the canonical genesis. */
  readonly runId: Uint8Array;
  /** The run id in hex. */
  readonly runIdHex: string;
  /** Which window is open when. */
  readonly clock: WindowClock;
  /** The model's flat parameter layout (Hugging Face names). */
  readonly layout: ParamLayout;
  /** The layout's tensors in layout order (`layout.entries`), as SparseLoCo walks them. */
  readonly tensors: readonly ParamEntry[];
  /** SparseLoCo compression settings of the run. */
  readonly compress: Readonly<Partial<CompressOptions>>;
  /** Index coding on the wire. */
  readonly indexMode: IndexMode;
  /** Grace after a window closes during which its announcements still count (ms). */
  readonly graceMs: number;
}

/** Derives the {@linkcode RunContext} of a validated genesis. */
export function runContext(genesis: Genesis): RunContext {
  const layout = paramLayout(genesis.model);
  const s = genesis.sparseloco;
  const runId = runIdOf(genesis);
  return {
    genesis,
    runId,
    runIdHex: hex(runId),
    clock: TimeWindowClock.fromGenesis(genesis),
    layout,
    tensors: layout.entries,
    compress: {
      beta: s.beta,
      k: s.k,
      maxSide: s.maxSide,
      chunk: s.chunk,
      rangeSigmas: s.rangeSigmas,
    },
    indexMode: indexModeOf(s),
    graceMs: Math.max(1, Math.round(genesis.windowMs * ROUND_GRACE_FRACTION)),
  };
}

/** θ₀: the model every run starts from, seeded by the genesis' data seed. */
export function initialParams(ctx: RunContext): Float32Array {
  return initParams(ctx.layout, ctx.genesis.model, ctx.genesis.data.seed);
}

/** What gossip messages of this run must satisfy (pass `now` for live traffic). */
export function verifyOptions(ctx: RunContext, now?: number): VerifyOptions {
  return {
    runId: ctx.runId,
    validators: ctx.genesis.validators,
    now,
    maxContributors: ctx.genesis.maxContributors,
  };
}

/** What an update payload for `window`, trained from `modelHash`, must satisfy. */
export function updateLimits(ctx: RunContext, window: number, modelHash: Uint8Array): DecodeLimits {
  return {
    expected: {
      runId: ctx.runId,
      window,
      modelHash,
      tensorShapes: ctx.tensors.map((t) => t.shape),
      tiles: { maxSide: ctx.genesis.sparseloco.maxSide, chunk: ctx.genesis.sparseloco.chunk },
      k: ctx.genesis.sparseloco.k,
      indexMode: ctx.indexMode,
    },
  };
}

/**
 * A peer's data stream index for the sampler: the first 4 bytes of its public key, so every
 * key draws its own batches and a validator can recompute them.
 */
export function dataPeerIndex(publicKey: Uint8Array): number {
  return ((publicKey[0] << 24) | (publicKey[1] << 16) | (publicKey[2] << 8) | publicKey[3]) >>> 0;
}
