import { rmsnormBackward, rmsnormForward } from "../../src/kernels/rmsnorm.ts";
import * as ref from "../../src/reference/rmsnorm.ts";
import { Rng } from "../../src/util/rng.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import {
  type CheckResult,
  compare,
  type KernelCase,
  onEachReductionPath,
  upload,
} from "./check.ts";

const EPS = 1e-5;
const SHAPES: [number, number][] = [];
for (const N of [1, 7, 300]) for (const C of [1, 64, 70, 4100]) SHAPES.push([N, C]);

/**
 * RMSNorm forward and backward: 1 row, several dw chunks, C below, around and above 256; on the
 * portable row sums and, where the device has subgroups, on the subgroup ones too.
 */
export const rmsnormCases: KernelCase[] = SHAPES.map(([N, C]) => {
  const shape = `N=${N} C=${C}`;
  return {
    kernel: "rmsnorm",
    shape,
    async run(rt) {
      const rng = new Rng(N * 10007 + C);
      const x = rng.normals(N * C),
        w = rng.normals(C),
        dout = rng.normals(N * C),
        dw0 = rng.normals(C);
      const out = new Float32Array(N * C), rstd = new Float32Array(N);
      ref.rmsnormForward(out, rstd, x, w, N, C, EPS);
      const dx = new Float32Array(N * C), dw = dw0.slice();
      ref.rmsnormBackward(dx, dw, dout, x, w, rstd, N, C);

      // dx = rstd·g − k·x cancels (fully at C = 1, where dx ∝ eps): its error is a few ulp of the
      // terms, not of the result, so atol follows the largest term |rstd·dout·w|.
      let maxTerm = 0;
      for (let i = 0; i < N * C; i++) {
        maxTerm = Math.max(maxTerm, Math.abs(rstd[Math.floor(i / C)] * dout[i] * w[i % C]));
      }
      const dxInit = rng.normals(N * C); // garbage: dx is written
      // Each row-sum path against the reference (check.ts onEachReductionPath).
      return await onEachReductionPath(rt, (path) => runPath(rt, path));

      async function runPath(rt: GpuRuntime, path: string): Promise<CheckResult[]> {
        const tx = upload(rt, x, "x"), tw = upload(rt, w, "w"), tDout = upload(rt, dout, "dout");
        const tOut = rt.tensor(N * C), tRstd = rt.tensor(N);
        rmsnormForward(rt, tOut, tRstd, tx, tw, N, C, EPS);
        const gotOut = await rt.read(tOut), gotRstd = await rt.read(tRstd);
        // The backward gets the reference's rstd so that it is checked on its own.
        const tRstdRef = upload(rt, rstd, "rstd"), tDw = upload(rt, dw0, "dw");
        const tDx = upload(rt, dxInit, "dx");
        rmsnormBackward(rt, tDx, tDw, tDout, tx, tw, tRstdRef, N, C);
        const gotDw = await rt.read(tDw), gotDx = await rt.read(tDx);
        // Same inputs again must reproduce every bit (on the small shapes: SwiftShader is slow).
        const rerun = N * C <= 30000;
        if (rerun) {
          rt.write(tDw, dw0);
          rmsnormForward(rt, tOut, tRstd, tx, tw, N, C, EPS);
          rmsnormBackward(rt, tDx, tDw, tDout, tx, tw, tRstdRef, N, C);
        }
        const again = rerun ? [await rt.read(tOut), await rt.read(tDx), await rt.read(tDw)] : [];
        const results = [
          // A float32 sum of C squares, sqrt and divide: a few ulp.
          compare("rmsnorm.forward", shape, `rstd${path}`, gotRstd, rstd, 0, 1e-6),
          compare("rmsnorm.forward", shape, `out${path}`, gotOut, out, 1e-7, 1e-6),
          compare("rmsnorm.backward", shape, `dx${path}`, gotDx, dx, 3e-7 * maxTerm, 1e-6),
          // dw adds N products of O(1) onto an O(1) dw in float32: ≲ (N + a few) ulps of O(1).
          compare("rmsnorm.backward", shape, `dw${path}`, gotDw, dw, 1.5e-7 * (N + 4), 1e-6),
        ];
        if (rerun) {
          const [outA, dxA, dwA] = again;
          results.push(
            compare("rmsnorm.forward", shape, `out rerun bits${path}`, outA, gotOut, 0, 0),
            compare("rmsnorm.backward", shape, `dx rerun bits${path}`, dxA, gotDx, 0, 0),
            compare("rmsnorm.backward", shape, `dw rerun bits${path}`, dwA, gotDw, 0, 0),
          );
        }
        for (const t of [tx, tw, tDout, tOut, tRstd, tRstdRef, tDw, tDx]) rt.dispose(t);
        return results;
      }
    },
  };
});
