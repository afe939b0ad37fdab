/**
 * A toy world for scoring tests: one 64×64 "model" whose data are target points, the loss of a
 * batch the mean squared distance to its target. Training on a batch moves θ towards its
 * target, so honest, lazy and hostile updates are easy to make and their effect is known.
 */
import { compressTensor, type QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { Rng } from "../util/rng.ts";
import type { Batch, LossProbe } from "./loss_check.ts";

export const N = 64 * 64;
export const layout = [{ name: "w", offset: 0, shape: [64, 64] }];

export function toyWorld(seed: number) {
  const rng = new Rng(seed);
  const targets = new Map<Uint32Array, Float32Array>();
  const shared = rng.normals(N); // what all data have in common
  /** A fresh data source: the shared part plus its own. */
  const source = () => {
    const own = rng.normals(N);
    return shared.map((x, i) => x + own[i]);
  };
  const batch = (t: Float32Array): Batch => {
    const inputs = new Uint32Array(1);
    targets.set(inputs, t);
    return { inputs, targets: inputs };
  };
  const lossOf = (params: Float32Array, b: Batch) => {
    const t = targets.get(b.inputs)!;
    let s = 0;
    for (let i = 0; i < N; i++) s += (params[i] - t[i]) ** 2;
    return s / N;
  };
  // One "sequence" per batch.
  const probe: LossProbe = {
    loss: (params, batches) =>
      Promise.resolve(batches.reduce((s, b) => s + lossOf(params, b), 0) / batches.length),
    sequenceLosses: (params, batches) => Promise.resolve(batches.map((b) => lossOf(params, b))),
  };
  /** `count` batches of a peer's data `t`: each its own sample around it (a peer's sequences). */
  const batches = (t: Float32Array, count = 4): Batch[] =>
    Array.from({ length: count }, () => {
      const noise = rng.normals(N);
      return batch(t.map((x, i) => x + noise[i]));
    });
  /** The compressed update of a peer that trained from `theta` towards `t`, times `scale`. */
  const updateTowards = (theta: Float32Array, t: Float32Array, scale = 1, k = 4096): QuantizedTensor[] => [
    compressTensor(t.map((x, i) => -scale * (x - theta[i])), new Float32Array(N), [64, 64], { k }) as QuantizedTensor,
  ];
  return { rng, source, batch, batches, probe, updateTowards };
}
