enable f16;
// shaders/matmul_f16.wgsl for devices with the `shader-f16` feature: the same packed buffers read
// as array<f16> (no unpacking), the same f32 products and sums, the same f32 output, so both give
// identical results; only this file needs the feature. The loader appends
// shaders/matmul_tiled.wgsl (its `tiled` entry, Params, p, out, overrides).

// tiled: A (M,K) or (K,M).
@group(0) @binding(2) var<storage, read> a: array<f16>;
// tiled: B (K,N) or (N,K).
@group(0) @binding(3) var<storage, read> b: array<f16>;

// op(A)[row, kk], zero outside rows < M and kk < k_end.  A: (M,K) | (K,M)
fn load_a(row: u32, kk: u32, k_end: u32) -> f32 {
  if (row >= p.m || kk >= k_end) { return 0.0; }
  if (TRANS_A) { return f32(a[kk * p.m + row]); }
  return f32(a[row * p.k + kk]);
}

// op(B)[kk, col], zero outside.  B: (K,N) | (N,K)
fn load_b(kk: u32, col: u32, k_end: u32) -> f32 {
  if (col >= p.n || kk >= k_end) { return 0.0; }
  if (TRANS_B) { return f32(b[col * p.k + kk]); }
  return f32(b[kk * p.n + col]);
}

