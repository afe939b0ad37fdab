/**
 * Row-major tensor shapes, as the layouts, codecs and checkpoints describe them.
 *
 * @module
 */

/** Number of elements of a tensor of `shape` (1 for a scalar's empty shape). */
export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Whether shapes `a` and `b` have the same dimensions. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
