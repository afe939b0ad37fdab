// The tiled matrix product shared by every operand format: appended (src/kernels/shaders.ts) to
// shaders/matmul.wgsl (f32 operands) and shaders/matmul_f16.wgsl / matmul_f16_native.wgsl (f16
// operands), which each define the operand bindings `a`, `b` and their readers
//   fn load_a(row, kk, k_end) -> f32   op(A)[row, kk], 0 outside rows < M and kk < k_end
//   fn load_b(kk, col, k_end) -> f32   op(B)[kk, col], 0 outside
// so the tiling, the f32 accumulation order and the stores are one piece of code.
//
// out(M,N) = op(A)(M,K) · op(B)(K,N), or out += … when accumulating, row-major.
//   A is stored (M,K), or (K,M) when TRANS_A;  B is stored (K,N), or (N,K) when TRANS_B.
// Entry point tiled: TILE×TILE output tile per (TILE/4)²-thread workgroup, 4×4 register block per
// thread, K in steps of BK through workgroup memory. Workgroup z takes one K chunk (split-K);
// with more than one chunk it writes f32 partials (S,M,N) to `out` (summed by matmul's
// reduce_splits). Every output element is summed in one fixed order (k ascending; split-K: chunks
// ascending), with no atomics, so results are bit-identical run to run.

// Overrides, all set by the launcher (src/kernels/matmul.ts) with no default here, so a missing
// one fails pipeline creation:
// TRANS_A, TRANS_B: the transposes; the branches fold away and the pipeline cache keys on them.
// TILE: output tile edge; BK: K step. The thread mapping needs BK = TILE/4 (each of the (TILE/4)²
//   threads loads one vec4 of each tile per step).
override TRANS_A: bool;
override TRANS_B: bool;
override TILE: u32;
override BK: u32;
// Derived, not set: vec4s across a tile (= threads along a tiled workgroup edge), and the row
// stride of the workgroup tiles in vec4s, TV + 1 of padding, so that the transposing stores
// (TV threads writing one column of TV rows) fall into different banks.
override TV: u32 = TILE / 4u;
override LDS: u32 = TV + 1u;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  // 1: out += product (tiled without split, naive, reduce_splits).
  accumulate: u32,
  // tiled: workgroup z covers k in [z·k_chunk, min(K, (z+1)·k_chunk)); K when not split.
  k_chunk: u32,
  // reduce_splits: number S of partial products.
  splits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// tiled/naive: out (M,N), or partials (S,M,N) when split.  reduce_splits: out (M,N).
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

// As[k·LDS + g] = op(A)[m0 + 4g .. m0 + 4g + 3, k0 + k]   op(A) tile (BK, TILE), TV vec4s a row
var<workgroup> As: array<vec4<f32>, BK * LDS>;
// Bs[k·LDS + g] = op(B)[k0 + k, n0 + 4g .. n0 + 4g + 3]   op(B) tile (BK, TILE), TV vec4s a row
var<workgroup> Bs: array<vec4<f32>, BK * LDS>;

// op(A)[row .. row+3, kk] as one vec4 (a column piece of the A tile).
fn load_a4(row: u32, kk: u32, k_end: u32) -> vec4<f32> {
  return vec4<f32>(load_a(row, kk, k_end), load_a(row + 1u, kk, k_end),
                   load_a(row + 2u, kk, k_end), load_a(row + 3u, kk, k_end));
}

// op(B)[kk, col .. col+3] as one vec4 (a row piece of the B tile).
fn load_b4(kk: u32, col: u32, k_end: u32) -> vec4<f32> {
  return vec4<f32>(load_b(kk, col, k_end), load_b(kk, col + 1u, k_end),
                   load_b(kk, col + 2u, k_end), load_b(kk, col + 3u, k_end));
}

// Writes out[base + row·N + col .. +3] (or adds to it), skipping columns ≥ N.  out: (M,N) at base
// Unrolled by hand: a loop over v[j] costs SwiftShader a dynamic vector index.
fn store_row(base: u32, row: u32, col: u32, v: vec4<f32>, accumulate: bool) {
  if (row >= p.m) { return; }
  let i = base + row * p.n + col;
  if (accumulate) {
    if (col < p.n) { out[i] += v.x; }
    if (col + 1u < p.n) { out[i + 1u] += v.y; }
    if (col + 2u < p.n) { out[i + 2u] += v.z; }
    if (col + 3u < p.n) { out[i + 3u] += v.w; }
  } else {
    if (col < p.n) { out[i] = v.x; }
    if (col + 1u < p.n) { out[i + 1u] = v.y; }
    if (col + 2u < p.n) { out[i + 2u] = v.z; }
    if (col + 3u < p.n) { out[i + 3u] = v.w; }
  }
}

// out: (M,N) or partials (S,M,N); a: (M,K) | (K,M); b: (K,N) | (N,K).
// Grid: (ceil(N/TILE), ceil(M/TILE), S). Thread (lx, ly) owns rows m0+4ly.., columns n0+4lx...
@compute @workgroup_size(TV, TV)
fn tiled(@builtin(workgroup_id) wid: vec3<u32>,
         @builtin(local_invocation_id) lid: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
  let m0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let k_begin = wid.z * p.k_chunk;
  let k_end = min(p.k, k_begin + p.k_chunk);

  // Each thread loads one vec4 of each tile per K step: (k, g) = (k within the step, vec4
  // column). Consecutive threads walk along the operand's stored rows so that global reads
  // coalesce: along k for A (M,K) and B (N,K), along m/n for A (K,M) and B (K,N).
  let ka = select(li % BK, li / TV, TRANS_A);
  let ga = select(li / BK, li % TV, TRANS_A);
  let kb = select(li / TV, li % BK, TRANS_B);
  let gb = select(li % TV, li / BK, TRANS_B);

  var ra = load_a4(m0 + 4u * ga, k_begin + ka, k_end);
  var rb = load_b4(k_begin + kb, n0 + 4u * gb, k_end);

  // c_i = out row (m0 + 4·ly + i), columns n0 + 4·lx .. +3.
  var c0 = vec4<f32>(0.0);
  var c1 = vec4<f32>(0.0);
  var c2 = vec4<f32>(0.0);
  var c3 = vec4<f32>(0.0);

  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    As[ka * LDS + ga] = ra;
    Bs[kb * LDS + gb] = rb;
    workgroupBarrier();
    // Prefetch the next K step into registers: its global reads overlap the arithmetic below.
    let k1 = k0 + BK;
    if (k1 < k_end) {
      ra = load_a4(m0 + 4u * ga, k1 + ka, k_end);
      rb = load_b4(k1 + kb, n0 + 4u * gb, k_end);
    }
    for (var kk = 0u; kk < BK; kk++) {
      let av = As[kk * LDS + lid.y];
      let bv = Bs[kk * LDS + lid.x];
      c0 += av.x * bv;
      c1 += av.y * bv;
      c2 += av.z * bv;
      c3 += av.w * bv;
    }
    workgroupBarrier();
  }

  let base = wid.z * p.m * p.n;
  let acc = p.accumulate != 0u;
  let row = m0 + 4u * lid.y;
  let col = n0 + 4u * lid.x;
  store_row(base, row, col, c0, acc);
  store_row(base, row + 1u, col, c1, acc);
  store_row(base, row + 2u, col, c2, acc);
  store_row(base, row + 3u, col, c3, acc);
}
