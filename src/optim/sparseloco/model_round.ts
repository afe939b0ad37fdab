/**
 * A SparseLoCo round's aggregation over a whole model whose parameters live in one flat
 * Float32Array with a named offset table; compression of a whole model is the reference's
 * `compressModel` (src/reference/sparseloco/compress_model.ts).
 *
 * @module
 */

import { aggregateTensor, DEFAULT_OUTER_OPTIONS, outerStep } from "./aggregate.ts";
import type { AggregateResult, OuterOptions } from "./aggregate.ts";
import type { CompressedTensor } from "../../reference/sparseloco/compress.ts";
import {
  checkLayout,
  type TensorEntry,
  tensorView,
} from "../../reference/sparseloco/compress_model.ts";

/** One selected peer's update of the whole model: one tensor per layout entry, in layout order. */
export interface PeerUpdate {
  /** The peer's id; fixes the summation order. */
  peer: string;
  /** Its compressed tensors, `tensors[i]` for `layout[i]`. */
  tensors: readonly CompressedTensor[];
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
    if (contributions.length > 0) outerStep(tensorView(params, e), result, { alpha });
    return result;
  });
}
