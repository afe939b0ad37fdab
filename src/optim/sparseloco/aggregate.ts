/**
 * Deterministic SparseLoCo aggregation of the selected peers' updates, and the outer step.
 *
 * Every peer must get bit-identical results, so:
 * - contributions are put in a fixed order (peer ids sorted by UTF-16 code units) before any
 *   arithmetic, so the input order never matters;
 * - sums accumulate in float64 in that order and are rounded to float32 once at the end. JS
 *   mandates IEEE-754 binary64 with round-to-nearest for + − × ÷ and a correctly rounded
 *   `Math.sqrt`, and never contracts to FMA, so every engine computes the same bits (no `**`,
 *   `Math.exp` or other approximated functions are used).
 *
 * @module
 */

import { flatIndicesOf, geometryOf, selectedValues } from "../../reference/sparseloco/compress.ts";
import type { CompressedTensor } from "../../reference/sparseloco/compress.ts";

/** One selected peer's update of one tensor. */
export interface Contribution {
  /** The peer's id (e.g. its public key, hex); fixes the summation order. Unique. */
  peer: string;
  /** Its compressed update of the tensor. */
  tensor: CompressedTensor;
}

/** Aggregation parameters (no defaults in the spec beyond the median rule). */
export interface AggregateOptions {
  /**
   * Clip every peer to this norm instead of the median of their norms (a validator scoring one
   * peer alone clips it to the window's median).
   */
  clipNorm?: number;
}

/** A sparse update of one tensor: values at flat (row-major) indices. */
export interface SparseDelta {
  /** Flat indices, each at most once: tile by tile, ascending within a tile. */
  indices: Float64Array;
  /** The values at those indices. */
  values: Float32Array;
}

/** Result of {@link aggregateTensor}: Δ̄ at every entry some peer selected (0 elsewhere). */
export interface AggregateResult extends SparseDelta {
  /** Entries of the tensor (0 when there were no contributions). */
  numel: number;
  /** Peer ids in summation order. */
  peers: string[];
  /** ‖v_i‖₂ of each peer, in `peers` order. */
  norms: number[];
  /** The clip norm used (the median of `norms` unless given). */
  clipNorm: number;
}

/**
 * Median of `values`; for an even count, the mean of the two middle values. 0 for no values.
 * Does not modify `values`.
 */
export function median(values: readonly number[]): number {
  const n = values.length;
  if (n === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const h = n >> 1;
  return n % 2 === 1 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
}

/** Code-unit order of strings (not locale-dependent). */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Aggregates the selected peers' updates of one tensor:
 * `v_i` dequantized, `m` = median of ‖v_i‖₂, `v_i *= min(1, m/‖v_i‖₂)`, and
 * Δ̄[j] = mean of v_i[j] over the peers that selected j (not divided by |S|; 0 where none did).
 * Works tile by tile with a tile-sized scratch, so its cost follows the selected entries, not
 * the tensor's size. All contributions must share shape and tile geometry (k may differ).
 * Throws `RangeError` on duplicate peer ids, mismatched geometry, or malformed selections.
 */
export function aggregateTensor(
  contributions: readonly Contribution[],
  options: AggregateOptions = {},
): AggregateResult {
  const sorted = [...contributions].sort((a, b) => compareIds(a.peer, b.peer));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].peer === sorted[i - 1].peer) {
      throw new RangeError(`aggregateTensor: duplicate peer ${sorted[i].peer}`);
    }
  }
  const peers = sorted.map((c) => c.peer);
  if (sorted.length === 0) {
    return {
      numel: 0,
      indices: new Float64Array(0),
      values: new Float32Array(0),
      peers,
      norms: [],
      clipNorm: options.clipNorm ?? 0,
    };
  }
  const first = sorted[0].tensor;
  const geometry = geometryOf(first);
  const parts = sorted.map(({ peer, tensor }) => {
    if (
      tensor.shape.length !== first.shape.length ||
      tensor.shape.some((d, i) => d !== first.shape[i]) ||
      tensor.tileRows !== first.tileRows || tensor.tileCols !== first.tileCols
    ) {
      throw new RangeError(
        `aggregateTensor: peer ${peer} has shape [${tensor.shape}] in ` +
          `${tensor.tileRows}×${tensor.tileCols} tiles, expected [${first.shape}] in ` +
          `${first.tileRows}×${first.tileCols}`,
      );
    }
    // Validates the selection (count, range, order) before anything is summed.
    flatIndicesOf(geometry, tensor.k, tensor.indices);
    const values = selectedValues(tensor);
    if (values.length !== tensor.indices.length) {
      throw new RangeError(`aggregateTensor: peer ${peer}: values and indices differ in count`);
    }
    let ss = 0;
    for (let j = 0; j < values.length; j++) ss += values[j] * values[j];
    return { k: tensor.k, local: tensor.indices, values, norm: Math.sqrt(ss) };
  });
  const norms = parts.map((p) => p.norm);
  const clipNorm = options.clipNorm ?? median(norms);
  // norm ≤ m also covers 0/0 (a peer that sent zeros).
  const factors = parts.map((p) => p.norm > clipNorm ? clipNorm / p.norm : 1);

  let bound = 0;
  for (const p of parts) bound += p.local.length;
  const outIndices = new Float64Array(Math.min(bound, geometry.numel));
  const outValues = new Float32Array(outIndices.length);
  const sums = new Float64Array(geometry.fullTileSize);
  const counts = new Uint32Array(geometry.fullTileSize);
  const touched = new Uint32Array(geometry.fullTileSize);
  let out = 0;
  for (let t = 0; t < geometry.tileCount; t++) {
    let nTouched = 0;
    for (let p = 0; p < parts.length; p++) {
      const { k, local, values } = parts[p];
      const start = geometry.tileStart(t, k);
      const end = start + geometry.tileK(t, k);
      const f = factors[p];
      for (let j = start; j < end; j++) {
        const i = local[j];
        if (counts[i] === 0) touched[nTouched++] = i;
        sums[i] += values[j] * f;
        counts[i]++;
      }
    }
    const locals = touched.subarray(0, nTouched).sort();
    for (let j = 0; j < nTouched; j++) {
      const i = locals[j];
      outIndices[out] = geometry.toFlat(t, i);
      outValues[out++] = sums[i] / counts[i];
      sums[i] = 0;
      counts[i] = 0;
    }
  }
  return {
    numel: geometry.numel,
    indices: outIndices.slice(0, out),
    values: outValues.slice(0, out),
    peers,
    norms,
    clipNorm,
  };
}

/** A sparse delta as a dense, row-major Float32Array of `numel` entries (zeros elsewhere). */
export function toDense(delta: SparseDelta, numel: number): Float32Array {
  const out = new Float32Array(numel);
  for (let j = 0; j < delta.indices.length; j++) out[delta.indices[j]] = delta.values[j];
  return out;
}

/** Outer-step parameters. Defaults: {@link DEFAULT_OUTER_OPTIONS}. */
export interface OuterOptions {
  /** Outer learning rate: θ = θ0 − α·Δ̄ (plain SGD). */
  alpha: number;
}

/** The reference run's outer step: α = 1.0 (it was lowered to 0.4 late in the run). */
export const DEFAULT_OUTER_OPTIONS: Readonly<OuterOptions> = Object.freeze({ alpha: 1.0 });

/**
 * The outer step, in place: θ[i] = θ[i] − α·Δ̄[i] at the entries of `deltaBar` (Δ̄ is 0
 * elsewhere, so θ stays), computed in float64 and rounded to float32 once. `theta` is the
 * tensor's entries (a subarray of the model's flat buffer is fine).
 */
export function outerStep(
  theta: Float32Array,
  deltaBar: SparseDelta,
  options: Partial<OuterOptions> = {},
): void {
  const { alpha } = { ...DEFAULT_OUTER_OPTIONS, ...options };
  const { indices, values } = deltaBar;
  if (indices.length !== values.length) {
    throw new RangeError("outerStep: indices and values differ in count");
  }
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    if (!(i >= 0 && i < theta.length)) {
      throw new RangeError(`outerStep: index ${i} outside θ of ${theta.length}`);
    }
    theta[i] = theta[i] - alpha * values[j];
  }
}
