import { crossEntropyBackward, crossEntropyForward } from "../../src/kernels/cross_entropy.ts";
import * as ref from "../../src/reference/cross_entropy.ts";
import { Rng } from "../../src/util/rng.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import {
  type CheckResult,
  compare,
  type KernelCase,
  onEachReductionPath,
  upload,
} from "./check.ts";

// V = 1 and 2 leave most of the 256 threads without elements; 50257 is GPT-2's vocabulary.
const SHAPES: [number, number][] = [[5, 1], [5, 2], [4, 256], [3, 5000], [3, 50257]];

/**
 * Cross-entropy loss and dlogits on a few rows, one of them shifted by +80 (stability); on the
 * portable row merge and, where the device has subgroups, on the subgroup one too.
 */
export const crossEntropyCases: KernelCase[] = SHAPES.map(([N, V]) => {
  const shape = `N=${N} V=${V}`;
  return {
    kernel: "cross_entropy",
    shape,
    async run(rt) {
      const rng = new Rng(N * 7919 + V);
      const logits = rng.normals(N * V, 3);
      // Row 1 shifted by +80: exp(x) would overflow float32 without subtracting the max.
      for (let j = 0; j < V; j++) logits[V + j] += 80;
      const targets = new Uint32Array(N);
      for (let i = 0; i < N; i++) targets[i] = rng.int(V);
      const scale = 1 / N;
      const losses = new Float32Array(N), dlogits = new Float32Array(N * V);
      ref.crossEntropyForward(losses, logits, targets, N, V);
      ref.crossEntropyBackward(dlogits, logits, targets, N, V, scale);
      const dInit = rng.normals(N * V); // garbage: the backward writes dlogits

      // Each row-merge path against the reference (check.ts onEachReductionPath).
      return await onEachReductionPath(rt, (path) => runPath(rt, path));

      async function runPath(rt: GpuRuntime, path: string): Promise<CheckResult[]> {
        const tLogits = upload(rt, logits, "logits"), tTargets = upload(rt, targets, "targets");
        const tLosses = rt.tensor(N), tD = upload(rt, dInit, "dlogits");
        crossEntropyForward(rt, tLosses, tLogits, tTargets, N, V);
        crossEntropyBackward(rt, tD, tLogits, tTargets, N, V, scale);
        const got = await rt.read(tD);
        crossEntropyBackward(rt, tD, tLogits, tTargets, N, V, scale);
        const again = await rt.read(tD);
        const results = [
          // log of a float32 sum of V exps: ~1 ulp of 1 absolute (log near s = 1), ~1e-6 relative.
          compare(
            "cross_entropy.forward",
            shape,
            `losses${path}`,
            await rt.read(tLosses),
            losses,
            5e-7,
            1e-6,
          ),
          // p − 1 at the target loses bits below ulp(1) = 1.2e-7 (times scale); elsewhere relative.
          compare(
            "cross_entropy.backward",
            shape,
            `dlogits${path}`,
            got,
            dlogits,
            2.4e-7 * scale,
            2e-6,
          ),
          compare("cross_entropy.backward", shape, `dlogits rerun bits${path}`, again, got, 0, 0),
        ];
        for (const t of [tLogits, tTargets, tLosses, tD]) rt.dispose(t);
        return results;
      }
    },
  };
});
