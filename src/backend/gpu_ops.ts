/** `Ops` on the WGSL kernels: commands are recorded and run in order on the GPU queue. */
import type { Kernels, Memory, Ops } from "./ops.ts";
import type { GpuRuntime, GpuTensor } from "../gpu/runtime.ts";
import * as k from "../kernels/mod.ts";
import { GpuCompressor } from "./compressor_gpu.ts";

/** Every kernel is its launcher on `rt`: each call is checked against the launcher's parameters. */
function kernels(rt: GpuRuntime): Kernels<GpuTensor> {
  return {
    matmul: (out, a, b, shape) => k.matmul(rt, out, a, b, shape),
    embeddingForward: (out, tokens, wte, BT, C) => k.embeddingForward(rt, out, tokens, wte, BT, C),
    embeddingBackward: (dwte, dout, rowStart, positions, V, C) =>
      k.embeddingBackward(rt, dwte, dout, rowStart, positions, V, C),
    rmsnormForward: (out, rstd, x, w, N, C, eps) =>
      k.rmsnormForward(rt, out, rstd, x, w, N, C, eps),
    rmsnormBackward: (dx, dw, dout, x, w, rstd, N, C) =>
      k.rmsnormBackward(rt, dx, dw, dout, x, w, rstd, N, C),
    ropeForward: (out, x, table, B, T, H, D) => k.ropeForward(rt, out, x, table, B, T, H, D),
    ropeBackward: (dx, dout, table, B, T, H, D) => k.ropeBackward(rt, dx, dout, table, B, T, H, D),
    attentionForward: (out, lse, q, kk, v, B, T, NH, NKV, D) =>
      k.attentionForward(rt, out, lse, q, kk, v, B, T, NH, NKV, D),
    attentionBackward: (dq, dk, dv, dout, q, kk, v, out, lse, B, T, NH, NKV, D) =>
      k.attentionBackward(rt, dq, dk, dv, dout, q, kk, v, out, lse, B, T, NH, NKV, D),
    swigluForward: (out, gate, up, n) => k.swigluForward(rt, out, gate, up, n),
    swigluBackward: (dgate, dup, dout, gate, up, n) =>
      k.swigluBackward(rt, dgate, dup, dout, gate, up, n),
    crossEntropyForward: (losses, logits, targets, N, V) =>
      k.crossEntropyForward(rt, losses, logits, targets, N, V),
    crossEntropyBackward: (dlogits, logits, targets, N, V, scale) =>
      k.crossEntropyBackward(rt, dlogits, logits, targets, N, V, scale),
    residualForward: (out, a, b, n) => k.residualForward(rt, out, a, b, n),
    // Elementwise over tensors that may be split across buffers: one launch per piece.
    accumulate: (dst, src, n, scale) => {
      for (const { tensors: [d, s], length } of rt.pieces([dst, src], n)) {
        k.accumulate(rt, d, s, length, scale);
      }
    },
    gradClip: (out, grads, n, maxNorm) => k.gradClip(rt, out, grads, n, maxNorm),
    adamw: (params, grads, m, v, clip, n, hp) => {
      for (const { tensors: [p, g, mm, vv], length } of rt.pieces([params, grads, m, v], n)) {
        k.adamw(rt, p, g, mm, vv, clip, length, hp);
      }
    },
  };
}

/**
 * The GPU backend over one runtime. Tensors given split points may span several buffers (see
 * src/gpu/runtime.ts): memory operations, accumulate, adamw, gradClip and the compressor take
 * them whole; every other kernel gets views of named tensors, which lie in one buffer.
 */
export function gpuOps(rt: GpuRuntime): Ops<GpuTensor> {
  const memory: Memory<GpuTensor> = {
    name: "gpu",
    tensor: (length, label, split) => rt.tensor(length, "f32", label, split),
    indices: (length, label) => rt.tensor(length, "u32", label),
    view: (t, start, length, label) => rt.view(t, start, length, label),
    write: (t, data) => rt.write(t, data),
    read: (t) => rt.read(t),
    zero: (t) => rt.zero(t),
    copy: (dst, src) => rt.copy(dst, src),
  };
  return {
    ...memory,
    ...kernels(rt),
    compressor: (layout, options) => new GpuCompressor(rt, layout, options),
  };
}
