/**
 * The kernels that write packed f16 activations (a u32 `out`: rmsnormForward, swigluForward,
 * attentionForward) and attentionBackward reading one, against src/reference/f16_activations.ts.
 * Each f16 output is checked two ways: bit for bit against the same kernel's f32 output rounded
 * by the reference's `roundF16` (the kernel computes in f32 and rounds on store, to nearest even
 * on SwiftShader and lavapipe), and against the reference within one f16 step plus the f32
 * kernel's own tolerance (the f32 values may differ in the last bits and round to the other
 * neighbour; WGSL lets an adapter round either way).
 */
import { rmsnormForward } from "../../src/kernels/rmsnorm.ts";
import { swigluForward } from "../../src/kernels/swiglu.ts";
import { attentionBackward, attentionForward } from "../../src/kernels/attention.ts";
import * as ref from "../../src/reference/f16_activations.ts";
import { roundF16, unpackF16 } from "../../src/reference/f16.ts";
import { Rng } from "../../src/util/rng.ts";
import { type CheckResult, compare, type KernelCase, upload } from "./check.ts";

/** One f16 step: 2⁻¹⁰ relative for normals, 2⁻²⁴ absolute for subnormals. */
const STEP: [number, number] = [2 ** -24, 2 ** -10];

/** `got` (packed words) against the f32 kernel's output rounded (bitwise) and the reference. */
function checkPacked(
  kernel: string,
  shape: string,
  got16: Uint32Array,
  f32: Float32Array,
  want16: Uint32Array,
  n: number,
  [atol, rtol]: [number, number],
): CheckResult[] {
  const got = unpackF16(got16, n);
  return [
    compare(
      kernel,
      shape,
      "out = f32 kernel rounded, bitwise",
      got,
      Float32Array.from(f32, roundF16),
      0,
      0,
    ),
    compare(
      kernel,
      shape,
      "out vs reference",
      got,
      unpackF16(want16, n),
      atol + STEP[0],
      rtol + STEP[1],
    ),
  ];
}

function rmsnormF16Case(N: number, C: number): KernelCase {
  const shape = `N=${N} C=${C}`;
  return {
    kernel: "rmsnorm f16 out",
    shape,
    async run(rt) {
      const rng = new Rng(N * 10007 + C + 0xf16);
      const x = rng.normals(N * C), w = rng.normals(C);
      const want16 = new Uint32Array(N * C / 2), rstd = new Float32Array(N);
      ref.rmsnormForwardF16(want16, rstd, x, w, N, C, 1e-5);
      const tx = upload(rt, x, "x"), tw = upload(rt, w, "w");
      const out = rt.tensor(N * C), rstd32 = rt.tensor(N);
      const out16 = upload(rt, new Uint32Array(N * C / 2).fill(0xdeadbeef), "out16");
      const rstd16 = rt.tensor(N);
      rmsnormForward(rt, out, rstd32, tx, tw, N, C, 1e-5);
      rmsnormForward(rt, out16, rstd16, tx, tw, N, C, 1e-5);
      const f32 = await rt.read(out), gotRstd = await rt.read(rstd16);
      const results = [
        ...checkPacked("rmsnorm.forward_f16", shape, await rt.readU32(out16), f32, want16, N * C, [
          1e-7,
          1e-6,
        ]),
        compare(
          "rmsnorm.forward_f16",
          shape,
          "rstd = f32 kernel's, bitwise",
          gotRstd,
          await rt.read(rstd32),
          0,
          0,
        ),
        compare("rmsnorm.forward_f16", shape, "rstd vs reference", gotRstd, rstd, 0, 1e-6),
      ];
      for (const t of [tx, tw, out, rstd32, out16, rstd16]) rt.dispose(t);
      return results;
    },
  };
}

function swigluF16Case(n: number): KernelCase {
  const shape = `n=${n}`;
  return {
    kernel: "swiglu f16 out",
    shape,
    async run(rt) {
      const rng = new Rng(n + 0xf16);
      const gate = rng.normals(n, 4), up = rng.normals(n, 300);
      // Saturated gates, and products past the f16 range (saturated to ±65504).
      if (n > 3) [gate[0], gate[1], gate[2], up[2]] = [-100, 100, 30, 4000];
      const words = Math.ceil(n / 2);
      const want16 = new Uint32Array(words);
      ref.swigluForwardF16(want16, gate, up, n);
      const tg = upload(rt, gate, "gate"), tu = upload(rt, up, "up"), out = rt.tensor(n);
      const out16 = upload(rt, new Uint32Array(words).fill(0xdeadbeef), "out16");
      swigluForward(rt, out, tg, tu, n);
      swigluForward(rt, out16, tg, tu, n);
      const got16 = await rt.readU32(out16);
      const pad = n % 2 === 1 ? got16[words - 1] >>> 16 : 0;
      const results = [
        ...checkPacked("swiglu.forward_f16", shape, got16, await rt.read(out), want16, n, [
          2e-7,
          2e-6,
        ]),
        compare("swiglu.forward_f16", shape, "odd n pads with 0", [pad], [0], 0, 0),
      ];
      for (const t of [tg, tu, out, out16]) rt.dispose(t);
      return results;
    },
  };
}

function attentionF16Case(B: number, T: number, NH: number, NKV: number, D: number): KernelCase {
  const shape = `B=${B} T=${T} NH=${NH} NKV=${NKV} D=${D}`;
  return {
    kernel: "attention f16 out",
    shape,
    async run(rt) {
      const nq = B * T * NH * D, nkv = B * T * NKV * D, nl = B * NH * T;
      const rng = new Rng(T * 131 + NH * 7 + D + 0xf16);
      const q = rng.normals(nq), k = rng.normals(nkv), v = rng.normals(nkv), dout = rng.normals(nq);
      const tq = upload(rt, q, "q"), tk = upload(rt, k, "k"), tv = upload(rt, v, "v");
      const tdout = upload(rt, dout, "dout");
      const out = rt.tensor(nq), lse = rt.tensor(nl), lse16 = rt.tensor(nl);
      const out16 = upload(rt, new Uint32Array(nq / 2).fill(0xdeadbeef), "out16");
      const grads = () => [rt.tensor(nq), rt.tensor(nkv), rt.tensor(nkv)] as const;
      const [dq, dk, dv] = grads(), [dq32, dk32, dv32] = grads();
      attentionForward(rt, out, lse, tq, tk, tv, B, T, NH, NKV, D);
      attentionForward(rt, out16, lse16, tq, tk, tv, B, T, NH, NKV, D);
      attentionBackward(rt, dq, dk, dv, tdout, tq, tk, tv, out16, lse16, B, T, NH, NKV, D);
      attentionBackward(rt, dq32, dk32, dv32, tdout, tq, tk, tv, out, lse, B, T, NH, NKV, D);
      const got16 = await rt.readU32(out16), gotLse = await rt.read(lse16);

      // References in f64 on the same f32 inputs; the backward's on the kernel's own f16 out,
      // so that it checks the backward alone (the forward is checked above).
      const f64 = (a: Float32Array) => Float64Array.from(a);
      const want16 = new Uint32Array(nq / 2), wLse = new Float64Array(nl);
      ref.attentionForwardF16(want16, wLse, f64(q), f64(k), f64(v), B, T, NH, NKV, D);
      const wDq = new Float64Array(nq), wDk = new Float64Array(nkv), wDv = new Float64Array(nkv);
      ref.attentionBackwardF16(
        wDq,
        wDk,
        wDv,
        f64(dout),
        f64(q),
        f64(k),
        f64(v),
        got16,
        f64(gotLse),
        B,
        T,
        NH,
        NKV,
        D,
      );
      // As test/kernels/attention_cases.ts.
      const grad = 5e-6 * Math.sqrt(Math.max(1, T / 256));
      const results = [
        ...checkPacked("attention.forward_f16", shape, got16, await rt.read(out), want16, nq, [
          1e-6,
          1e-5,
        ]),
        compare(
          "attention.forward_f16",
          shape,
          "lse = f32 kernel's, bitwise",
          gotLse,
          await rt.read(lse),
          0,
          0,
        ),
        compare("attention.backward_dq_f16", shape, "dq", await rt.read(dq), wDq, grad, 2e-5),
        compare("attention.backward_dq_f16", shape, "dk", await rt.read(dk), wDk, grad, 2e-5),
        compare("attention.backward_dq_f16", shape, "dv", await rt.read(dv), wDv, grad, 2e-5),
        // dv does not read out or delta: the f32 backward's bits.
        compare(
          "attention.backward_dq_f16",
          shape,
          "dv = f32 backward's, bitwise",
          await rt.read(dv),
          await rt.read(dv32),
          0,
          0,
        ),
      ];
      for (const t of [tq, tk, tv, tdout, out, lse, lse16, out16, dq, dk, dv, dq32, dk32, dv32]) {
        rt.dispose(t);
      }
      return results;
    },
  };
}

/**
 * Odd row counts, C below and above one workgroup's threads (rmsnorm), odd n (swiglu's last
 * word half padding), and three head dims of test/kernels/attention_cases.ts (each D its own
 * pipeline, and software compilers are slow).
 */
export const f16ActivationCases: KernelCase[] = [
  ...([[1, 64], [7, 70], [300, 4100]] as const).map(([N, C]) => rmsnormF16Case(N, C)),
  ...[1, 1001, 70001].map(swigluF16Case),
  ...([[2, 7, 4, 2, 16], [1, 65, 3, 1, 20], [2, 128, 4, 4, 64]] as const).map(
    ([B, T, NH, NKV, D]) => attentionF16Case(B, T, NH, NKV, D),
  ),
];
