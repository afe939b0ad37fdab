// Matrix multiply with f16 operands on every adapter. Each operand is either f16 pairs packed in
// u32 words (A_F16 / B_F16 true: element 2w in the low half of word w, unpacked with WGSL core's
// unpack2x16float) or f32 (false: its words bitcast and rounded to f16 on load exactly as castF16
// rounds them, so an f32 operand — a master weight, a gradient — needs no separate cast pass and
// gives the same bits as cast-then-multiply). Products and sums in f32, written as f32.
//   out(M,N) = op(A)(M,K) · op(B)(K,N), or out += …, row-major;
//   A is stored (M,K), or (K,M) when TRANS_A;  B is stored (K,N), or (N,K) when TRANS_B.
// The loader appends shaders/f16_pack.wgsl (half_at, round_f16) and shaders/matmul_tiled.wgsl
// (its `tiled` entry, Params, p, out, overrides). Where the device has `shader-f16`,
// shaders/matmul_f16_native.wgsl reads two packed operands as array<f16> instead
// (src/kernels/matmul_f16.ts picks).

// Whether A / B hold packed f16 pairs (else f32 words), set by the launcher.
override A_F16: bool;
override B_F16: bool;

// tiled: A (M,K) or (K,M), f16 pairs or f32 words.
@group(0) @binding(2) var<storage, read> a: array<u32>;
// tiled: B (K,N) or (N,K), f16 pairs or f32 words.
@group(0) @binding(3) var<storage, read> b: array<u32>;

// op(A)[row, kk], zero outside rows < M and kk < k_end.  A: (M,K) | (K,M)
fn load_a(row: u32, kk: u32, k_end: u32) -> f32 {
  if (row >= p.m || kk >= k_end) { return 0.0; }
  let i = select(row * p.k + kk, kk * p.m + row, TRANS_A);
  if (A_F16) { return half_at(a[i >> 1u], i); }
  return round_f16(bitcast<f32>(a[i]));
}

// op(B)[kk, col], zero outside.  B: (K,N) | (N,K)
fn load_b(kk: u32, col: u32, k_end: u32) -> f32 {
  if (col >= p.n || kk >= k_end) { return 0.0; }
  let i = select(kk * p.n + col, col * p.k + kk, TRANS_B);
  if (B_F16) { return half_at(b[i >> 1u], i); }
  return round_f16(bitcast<f32>(b[i]));
}
