import { matmul, matmulSplits } from "../../src/kernels/matmul.ts";
import { castF16, hasShaderF16, matmulF16, matmulF16Inputs } from "../../src/kernels/matmul_f16.ts";
import * as ref from "../../src/reference/matmul.ts";
import { F16_MAX, packF16, unpackF16 } from "../../src/reference/f16.ts";
import * as ref16 from "../../src/reference/f16_activations.ts";
import type { GpuTensor } from "../../src/gpu/runtime.ts";
import { Rng } from "../../src/util/rng.ts";
import { type CheckResult, compare, type KernelCase, upload } from "./check.ts";

/** (M, N, K): as test/kernels/matmul_cases.ts: odd sizes, odd element counts, and a split-K. */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 300, 7],
  [65, 63, 130],
  [128, 64, 256],
  [33, 40, 4100],
];

const U = 2 ** -24;

/**
 * The reference multiplies the same f16 values (exact in f32) and sums in f64, so the only error
 * is the f32 summation's, as for the f32 matmul (test/kernels/matmul_cases.ts): 4·K·u absolute
 * plus 4·√K·u relative.
 */
function tolerance(K: number): [number, number] {
  return [4 * K * U, 4 * Math.sqrt(K) * U];
}

function matmulF16Case(
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
): KernelCase {
  const shape = `${M}×${N}×${K} ${transA ? "T" : "N"}${transB ? "T" : "N"}` +
    (matmulSplits(M, N, K) > 1 ? ` split ${matmulSplits(M, N, K)}` : "");
  return {
    kernel: "matmulF16",
    shape,
    async run(rt) {
      const s = { M, N, K, transA, transB };
      const rng = new Rng(M * 7919 + N * 131 + K + (transA ? 2 : 0) + (transB ? 1 : 0) + 0xf16);
      // The operands are f16 values: the packed words and the same values as f32.
      const a16 = packF16(rng.normals(M * K)), b16 = packF16(rng.normals(K * N));
      const a = unpackF16(a16, M * K), b = unpackF16(b16, K * N), c0 = rng.normals(M * N);
      const want = new Float32Array(M * N), wantAcc = Float32Array.from(c0);
      ref.matmul(want, a, b, s);
      ref.matmul(wantAcc, a, b, { ...s, accumulate: true });
      const [atol, rtol] = tolerance(K);
      const path = hasShaderF16(rt) ? "shader-f16" : "packed u32";

      const ta16 = upload(rt, a16, "a16"), tb16 = upload(rt, b16, "b16");
      const ta = upload(rt, a, "a"), tb = upload(rt, b, "b");
      const out = upload(rt, new Float32Array(M * N).fill(NaN), "out"), acc = upload(rt, c0, "acc");
      const results: CheckResult[] = [];
      matmulF16(rt, out, ta16, tb16, s);
      matmulF16(rt, acc, ta16, tb16, { ...s, accumulate: true });
      const got = await rt.read(out);
      results.push(compare("matmulF16", shape, `out (${path})`, got, want, atol, rtol));
      results.push(compare("matmulF16", shape, "out +=", await rt.read(acc), wantAcc, atol, rtol));
      // The same tiled WGSL behind f32 loads of the same values: bit-identical to matmul.
      const f32 = upload(rt, new Float32Array(M * N).fill(NaN), "f32");
      matmul(rt, f32, ta, tb, s);
      results.push(
        compare(
          "matmulF16",
          shape,
          "= matmul on the same values, bitwise",
          got,
          await rt.read(f32),
          0,
          0,
        ),
      );
      // From f32 tensors rounded on load: the f32 inputs are f16 values already, so the
      // rounding is exact and the result the same bits again.
      const viaCast = upload(rt, new Float32Array(M * N).fill(NaN), "viaCast");
      matmulF16Inputs(rt, viaCast, ta, tb, s);
      results.push(
        compare("matmulF16Inputs", shape, "out, bitwise", await rt.read(viaCast), got, 0, 0),
      );
      // Mixed operands (the f16-activation backend: a packed activation times an f32 weight or
      // gradient) and f32 values that are not f16: rounded on load, no cast pass, the bits of
      // `castF16` then `matmulF16`, and the reference on the rounded values.
      const aRaw = rng.normals(M * K), bRaw = rng.normals(K * N);
      const taRaw = upload(rt, aRaw, "aRaw"), tbRaw = upload(rt, bRaw, "bRaw");
      const aCast = rt.tensor(Math.ceil(M * K / 2), "u32", "aCast");
      const bCast = rt.tensor(Math.ceil(K * N / 2), "u32", "bCast");
      castF16(rt, aCast, taRaw, M * K);
      castF16(rt, bCast, tbRaw, K * N);
      const temps: GpuTensor[] = [];
      const pairs: [
        string,
        GpuTensor,
        GpuTensor,
        GpuTensor,
        GpuTensor,
        Uint32Array | Float32Array,
        Uint32Array | Float32Array,
      ][] = [
        ["packed · f32", ta16, tbRaw, ta16, bCast, a16, bRaw],
        ["f32 · packed", taRaw, tb16, aCast, tb16, aRaw, b16],
        ["f32 · f32", taRaw, tbRaw, aCast, bCast, aRaw, bRaw],
      ];
      for (const [what, x, y, xc, yc, xh, yh] of pairs) {
        const mixed = rt.tensor(M * N, "f32", "mixed"), cast = rt.tensor(M * N, "f32", "cast");
        temps.push(mixed, cast);
        matmulF16Inputs(rt, mixed, x, y, s);
        matmulF16(rt, cast, xc, yc, s);
        const gotMixed = await rt.read(mixed), wantMixed = new Float32Array(M * N);
        ref16.matmulF16Inputs(wantMixed, xh, yh, s);
        results.push(
          compare(
            "matmulF16Inputs",
            shape,
            `${what} = cast then matmulF16, bitwise`,
            gotMixed,
            await rt.read(cast),
            0,
            0,
          ),
          compare(
            "matmulF16Inputs",
            shape,
            `${what} vs reference`,
            gotMixed,
            wantMixed,
            atol,
            rtol,
          ),
        );
      }
      for (
        const t of [
          ta16,
          tb16,
          ta,
          tb,
          out,
          acc,
          f32,
          viaCast,
          taRaw,
          tbRaw,
          aCast,
          bCast,
          ...temps,
        ]
      ) {
        rt.dispose(t);
      }
      return results;
    },
  };
}

/**
 * f32 → packed f16 on n values (odd, so the last word's high half is padding): normals at
 * several scales, values halfway between f16 neighbours (ties to even), subnormals, ±F16_MAX
 * and values past it (saturated). Checked bit for bit against the reference as f16 values, and
 * within one f16 step (WGSL lets an adapter round either way).
 */
function castCase(n: number): KernelCase {
  const shape = `${n} values`;
  return {
    kernel: "castF16",
    shape,
    async run(rt) {
      const rng = new Rng(n + 0xca57);
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const kind = i % 6;
        const z = rng.normal();
        if (kind === 0) x[i] = z;
        else if (kind === 1) x[i] = z * 2 ** (rng.int(30) - 15);
        // Halfway between two f16 values (f16 has 10 fraction bits: the 11th decides).
        else if (kind === 2) {
          x[i] = (1 + (2 * rng.int(1024) + 1) / 2048) * 2 ** (rng.int(20) - 10) * Math.sign(z);
        } else if (kind === 3) x[i] = z * 2 ** -20; // f16 subnormals (below 2^-14)
        else if (kind === 4) x[i] = [F16_MAX, -F16_MAX, 65519, 7e4, -1e9, 0][rng.int(6)];
        else x[i] = z * 1000;
      }
      const want = unpackF16(packF16(x), n);
      const tx = upload(rt, x, "x");
      const out = upload(rt, new Uint32Array(Math.ceil(n / 2)).fill(0xdeadbeef), "out16");
      castF16(rt, out, tx, n);
      const words = await rt.readU32(out);
      const got = unpackF16(words, n);
      rt.dispose(tx);
      rt.dispose(out);
      const pad = n % 2 === 1 ? words[words.length - 1] >>> 16 : 0;
      return [
        compare("castF16", shape, "round to nearest even", got, want, 0, 0),
        // One f16 step: 2^-10 relative for normals, 2^-24 absolute for subnormals.
        compare("castF16", shape, "within one f16 step", got, want, 2 ** -24, 2 ** -10),
        compare("castF16", shape, "odd n pads with 0", [pad], [0], 0, 0),
      ];
    },
  };
}

/** The packed-f16 matmul (every transpose on two shapes, NN on the rest) and the cast. */
export const matmulF16Cases: KernelCase[] = [
  castCase(4097),
  ...SHAPES.flatMap(([M, N, K], i) =>
    (i === 2 || i === 4
      ? [[false, false], [false, true], [true, false], [true, true]] as const
      : [[false, true]] as const).map(([ta, tb]) => matmulF16Case(M, N, K, ta, tb))
  ),
];
