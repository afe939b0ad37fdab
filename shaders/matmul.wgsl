// Matrix multiply with f32 operands, row-major:  out(M,N) = op(A)(M,K) · op(B)(K,N), or
// out += … when accumulating.  A is stored (M,K), or (K,M) when TRANS_A;  B is stored (K,N), or
// (N,K) when TRANS_B. The loader appends shaders/matmul_tiled.wgsl (src/kernels/shaders.ts), which
// declares TRANS_A, TRANS_B, TILE, BK, Params, p and out, and reads A and B through load_a/load_b.
// Entry points:
//   tiled:         (shaders/matmul_tiled.wgsl) the tuned product, split-K partials when asked.
//   reduce_splits: out(M,N) (+)= Σ_s partials(s,M,N), summed in s order (deterministic split-K);
//                  also sums the f32 partials of matmul_f16's tiled entry.
//   naive:         one thread per output element, no tiling (the benchmark's baseline).
// Every output element is summed in one fixed order (k ascending; split-K: chunks ascending), with
// no atomics, so results are bit-identical run to run.

// Overrides, set by the launcher (src/kernels/matmul.ts) with no default here:
// WG (reduce_splits): threads per workgroup.  NAIVE_WG (naive): threads along each workgroup edge.
override WG: u32;
override NAIVE_WG: u32;

// tiled/naive: A (M,K) or (K,M).  reduce_splits: partials (S,M,N).
@group(0) @binding(2) var<storage, read> a: array<f32>;
// tiled/naive: B (K,N) or (N,K).
@group(0) @binding(3) var<storage, read> b: array<f32>;

// op(A)[row, kk], zero outside rows < M and kk < k_end (so any M, N, K work).  A: (M,K) | (K,M)
fn load_a(row: u32, kk: u32, k_end: u32) -> f32 {
  if (row >= p.m || kk >= k_end) { return 0.0; }
  if (TRANS_A) { return a[kk * p.m + row]; }
  return a[row * p.k + kk];
}

// op(B)[kk, col], zero outside.  B: (K,N) | (N,K)
fn load_b(kk: u32, col: u32, k_end: u32) -> f32 {
  if (col >= p.n || kk >= k_end) { return 0.0; }
  if (TRANS_B) { return b[col * p.k + kk]; }
  return b[kk * p.n + col];
}

// out: (M,N); a: partials (S,M,N). Flat 2-D grid of WG-thread workgroups over M·N.
@compute @workgroup_size(WG)
fn reduce_splits(@builtin(global_invocation_id) gid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let mn = p.m * p.n;
  if (i >= mn) { return; }
  var s = 0.0;
  for (var z = 0u; z < p.splits; z++) { s += a[z * mn + i]; }
  if (p.accumulate != 0u) { s = out[i] + s; }
  out[i] = s;
}

// out: (M,N); a: (M,K) | (K,M); b: (K,N) | (N,K). Grid: (ceil(N/NAIVE_WG), ceil(M/NAIVE_WG)).
@compute @workgroup_size(NAIVE_WG, NAIVE_WG)
fn naive(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.y;
  let col = gid.x;
  if (row >= p.m || col >= p.n) { return; }
  var s = 0.0;
  for (var kk = 0u; kk < p.k; kk++) {
    var x: f32;
    var y: f32;
    if (TRANS_A) { x = a[kk * p.m + row]; } else { x = a[row * p.k + kk]; }
    if (TRANS_B) { y = b[col * p.k + kk]; } else { y = b[kk * p.n + col]; }
    s += x * y;
  }
  let i = row * p.n + col;
  if (p.accumulate != 0u) { s = out[i] + s; }
  out[i] = s;
}
