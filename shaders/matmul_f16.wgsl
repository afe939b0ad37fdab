// Matrix multiply with f16 operands on every adapter: A and B are stored as f16 pairs packed in
// u32 words (element 2w in the low half of word w, element 2w + 1 in the high half: the bytes of
// a little-endian f16 array), unpacked with WGSL core's unpack2x16float, multiplied and summed in
// f32, written as f32.  out(M,N) = op(A)(M,K) · op(B)(K,N), or out += …, row-major;
//   A is stored (M,K), or (K,M) when TRANS_A;  B is stored (K,N), or (N,K) when TRANS_B.
// The loader appends shaders/matmul_tiled.wgsl (its `tiled` entry, Params, p, out, overrides).
// Where the device has `shader-f16`, shaders/matmul_f16_native.wgsl reads the same buffers as
// array<f16> instead (src/kernels/matmul_f16.ts picks).

// tiled: A (M,K) or (K,M), f16 pairs.
@group(0) @binding(2) var<storage, read> a: array<u32>;
// tiled: B (K,N) or (N,K), f16 pairs.
@group(0) @binding(3) var<storage, read> b: array<u32>;

// Element i of a packed f16 array as f32 (select, not v[i & 1]: SwiftShader pays for a dynamic
// vector index).
fn half_at(word: u32, i: u32) -> f32 {
  let v = unpack2x16float(word);
  return select(v.x, v.y, (i & 1u) == 1u);
}

// op(A)[row, kk], zero outside rows < M and kk < k_end.  A: (M,K) | (K,M)
fn load_a(row: u32, kk: u32, k_end: u32) -> f32 {
  if (row >= p.m || kk >= k_end) { return 0.0; }
  let i = select(row * p.k + kk, kk * p.m + row, TRANS_A);
  return half_at(a[i >> 1u], i);
}

// op(B)[kk, col], zero outside.  B: (K,N) | (N,K)
fn load_b(kk: u32, col: u32, k_end: u32) -> f32 {
  if (col >= p.n || kk >= k_end) { return 0.0; }
  let i = select(kk * p.n + col, col * p.k + kk, TRANS_B);
  return half_at(b[i >> 1u], i);
}

