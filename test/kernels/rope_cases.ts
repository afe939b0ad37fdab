import { ropeBackward, ropeForward } from "../../src/kernels/rope.ts";
import * as ref from "../../src/reference/rope.ts";
import { Rng } from "../../src/util/rng.ts";
import { compare, type KernelCase, upload } from "./check.ts";

// [B, T, H, D]: a single pair, pair counts that do not fill a 256-wide workgroup, D = 128 and
// positions up to 1023 (large angles, where a differently computed table would show).
const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 2],
  [2, 7, 3, 16],
  [1, 65, 4, 64],
  [2, 300, 2, 128],
  [1, 1024, 1, 128],
];

// out = x1·c − x2·s in float32: two rounded products and a rounded difference, so about
// 2⁻²³·(|x1|+|x2|) absolute at worst; normal inputs stay below 5.
const ATOL = 1e-6, RTOL = 1e-6;

/** RoPE forward and backward against the float64 reference on the same float32 table. */
export const ropeCases: KernelCase[] = SHAPES.map(([B, T, H, D]) => {
  const shape = `B=${B} T=${T} H=${H} D=${D}`;
  return {
    kernel: "rope",
    shape,
    async run(rt) {
      const n = B * T * H * D, rng = new Rng(B * 1000 + T * 10 + D);
      const table = ref.ropeTable(T, D, 10000);
      const x = rng.normals(n), dout = rng.normals(n);
      const tx = upload(rt, x, "x"),
        tdout = upload(rt, dout, "dout"),
        ttable = upload(rt, table, "table");
      const out = rt.tensor(n, "f32", "out"), dx = rt.tensor(n, "f32", "dx");
      ropeForward(rt, out, tx, ttable, B, T, H, D);
      ropeBackward(rt, dx, tdout, ttable, B, T, H, D);
      const wantOut = new Float64Array(n), wantDx = new Float64Array(n);
      ref.ropeForward(wantOut, Float64Array.from(x), table, B, T, H, D);
      ref.ropeBackward(wantDx, Float64Array.from(dout), table, B, T, H, D);
      const results = [
        compare("rope.forward", shape, "out", await rt.read(out), wantOut, ATOL, RTOL),
        compare("rope.backward", shape, "dx", await rt.read(dx), wantDx, ATOL, RTOL),
      ];
      for (const t of [tx, tdout, ttable, out, dx]) rt.dispose(t);
      return results;
    },
  };
});
