/**
 * SparseLoCo compression of a whole model whose parameters live in one flat Float32Array with
 * a named offset table (`ParamLayout.entries`, src/model/params.ts).
 *
 * @module
 */

import type { ParamEntry } from "../../model/params.ts";
import { compressTensor } from "./compress.ts";
import type { CompressedTensor, CompressOptions } from "./compress.ts";
import { numelOf } from "../../util/shape.ts";

/** What SparseLoCo needs of a layout entry: where a tensor lies in the flat buffer. */
export type TensorEntry = Pick<ParamEntry, "name" | "offset" | "shape">;

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

/** The entries of tensor `e` in the flat `buffer` (a subarray: writes go through). */
export function tensorView(buffer: Float32Array, e: TensorEntry): Float32Array {
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
  return layout.map((e) =>
    compressTensor(tensorView(delta, e), tensorView(error, e), e.shape, options)
  );
}
