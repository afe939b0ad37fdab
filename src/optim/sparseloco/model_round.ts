/**
 * SparseLoCo over a whole model whose parameters live in one flat Float32Array with a named
 * offset table.
 *
 * @module
 */

import { aggregateTensor, DEFAULT_OUTER_OPTIONS, outerStep } from "./aggregate.ts";
import type { AggregateResult, OuterOptions } from "./aggregate.ts";
import { compressTensor } from "../../reference/sparseloco/compress.ts";
import type { CompressedTensor, CompressOptions } from "../../reference/sparseloco/compress.ts";
import { numelOf } from "../../util/shape.ts";

/** One tensor of the flat parameter buffer. */
export interface TensorEntry {
  /** Its name, e.g. "layers.0.attn.wq". */
  name: string;
  /** Where it starts in the flat buffer, in elements. */
  offset: number;
  /** Its shape (row-major). */
  shape: readonly number[];
}

/** One selected peer's update of the whole model: one tensor per layout entry, in layout order. */
export interface PeerUpdate {
  /** The peer's id; fixes the summation order. */
  peer: string;
  /** Its compressed tensors, `tensors[i]` for `layout[i]`. */
  tensors: readonly CompressedTensor[];
}

/**
 * Checks that every entry lies inside a buffer of `length` elements and none overlap.
 * Throws `RangeError` otherwise.
 */
export function checkLayout(layout: readonly TensorEntry[], length: number): void {
  const spans = layout.map((e) => {
    const n = numelOf(e.shape);
    if (
      !Number.isSafeInteger(e.offset) || e.offset < 0 || !Number.isSafeInteger(n) || n < 1 ||
      e.offset + n > length
    ) {
      throw new RangeError(`layout: tensor ${e.name} [${e.shape}] at ${e.offset} out of bounds`);
    }
    return { name: e.name, start: e.offset, end: e.offset + n };
  }).sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].start < spans[i - 1].end) {
      throw new RangeError(`layout: tensors ${spans[i - 1].name} and ${spans[i].name} overlap`);
    }
  }
}

function view(buffer: Float32Array, e: TensorEntry): Float32Array {
  return buffer.subarray(e.offset, e.offset + numelOf(e.shape));
}

/**
 * Compresses a whole model's pseudo-gradient: `delta` and `error` are flat buffers with the
 * same layout as the parameters; `error` is updated in place. Returns one compressed tensor per
 * layout entry, in layout order.
 */
export function compressModel(
  delta: Float32Array,
  error: Float32Array,
  layout: readonly TensorEntry[],
  options: Partial<CompressOptions> = {},
): CompressedTensor[] {
  checkLayout(layout, Math.min(delta.length, error.length));
  return layout.map((e) => compressTensor(view(delta, e), view(error, e), e.shape, options));
}

/** Options of {@link applyAggregate}. */
export interface RoundOptions extends OuterOptions {
  /** Per-tensor clip norms instead of the medians (same order as the layout). */
  clipNorms?: readonly number[];
}

/**
 * Aggregates the selected peers' updates tensor by tensor and applies the outer step to
 * `params` in place: θ = θ0 − α·Δ̄. Returns each tensor's aggregation result (layout order).
 * Bit-identical for the same inputs in any order on any JS engine.
 */
export function applyAggregate(
  params: Float32Array,
  layout: readonly TensorEntry[],
  updates: readonly PeerUpdate[],
  options: Partial<RoundOptions> = {},
): AggregateResult[] {
  checkLayout(layout, params.length);
  const { alpha, clipNorms } = { ...DEFAULT_OUTER_OPTIONS, ...options };
  for (const u of updates) {
    if (u.tensors.length !== layout.length) {
      throw new RangeError(
        `applyAggregate: peer ${u.peer} sent ${u.tensors.length} tensors, layout has ${layout.length}`,
      );
    }
  }
  return layout.map((e, i) => {
    const shape = e.shape.join("x");
    const contributions = updates.map((u) => {
      if (u.tensors[i].shape.join("x") !== shape) {
        throw new RangeError(
          `applyAggregate: peer ${u.peer}, tensor ${e.name}: shape [${u.tensors[i].shape}]` +
            ` is not [${e.shape}]`,
        );
      }
      return { peer: u.peer, tensor: u.tensors[i] };
    });
    const result = aggregateTensor(contributions, { clipNorm: clipNorms?.[i] });
    if (contributions.length > 0) outerStep(view(params, e), result, { alpha });
    return result;
  });
}
