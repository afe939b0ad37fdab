// RMSNorm over the last axis: y = x · rstd · w,  rstd = 1 / sqrt(mean(x²) + eps).
// x, y, dout, dx: (N,C); w, dw: (C); rstd: (N); partial: (K,C) with K row chunks
// forward:    y, rstd (saved for the backward)
// forward_f16: the same with y written as f16 pairs packed in u32 words (shaders/f16_pack.wgsl,
//             appended by the loader; C even): the f32 value of `forward` rounded to f16.
// backward:   dx = rstd · g − x · rstd³ · Σ_c(g·x) / C,  g = dout · w       (written)
// dw_partial: partial[k, c] = Σ_{rows r of chunk k} dout[r,c] · x[r,c] · rstd[r]
// dw_reduce:  dw[c] += Σ_k partial[k, c]                                     (accumulated)
// Row sums: one workgroup per row, each thread sums a strided slice in order, then `wg_sum`:
// shaders/wg_sum.wgsl (a fixed two-level sum in workgroup memory, every adapter) or
// shaders/wg_sum_subgroups.wgsl (subgroupAdd, shader "rmsnorm_subgroups", where the device has
// `subgroups`); the loader concatenates one of them with this file. dw: rows split into K fixed chunks, then the chunks summed in
// order. No atomics, so results are bit-identical run to run.

struct Params { N: u32, C: u32, eps: f32, rows_per_chunk: u32 }

// Set by the launcher (no defaults, so a missing value fails pipeline creation):
// WG: threads per row workgroup (forward, backward), a power of two ≥ 16 for the two-level sum,
//     picked from the row length so that short rows do not idle 256 threads.
// COL_WG: threads per workgroup of the column passes (dw_partial, dw_reduce).
override WG: u32;
override COL_WG: u32;

@group(0) @binding(0) var<uniform> p: Params;

// forward (bindings 1..4)
@group(0) @binding(1) var<storage, read_write> y: array<f32>;         // (N,C)
@group(0) @binding(2) var<storage, read_write> rstd_out: array<f32>;  // (N)
@group(0) @binding(3) var<storage, read> x: array<f32>;               // (N,C)
@group(0) @binding(4) var<storage, read> w: array<f32>;               // (C)
// forward_f16 (bindings 1..4, as forward with y packed)
@group(0) @binding(1) var<storage, read_write> y16: array<u32>;       // (N,C/2) f16 pairs

// backward (bindings 1..5) and dw_partial (1..4); WGSL lets different entry points give one
// binding different variables.
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;        // (N,C)
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;   // (K,C)
@group(0) @binding(2) var<storage, read> rstd: array<f32>;            // (N)
@group(0) @binding(4) var<storage, read> dout: array<f32>;            // (N,C)
@group(0) @binding(5) var<storage, read> w_b: array<f32>;             // (C) w again

// dw_reduce (bindings 1..2)
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;        // (C)
@group(0) @binding(2) var<storage, read> partial_in: array<f32>;      // (K,C)

// Row index of this workgroup: a 2-D grid so that N may exceed 65535.
fn row_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }

// rstd of row `row` (x[base .. base+C)), written to rstd_out; every thread must call it.
fn row_rstd(row: u32, base: u32, tid: u32) -> f32 {
  var ss = 0.0;
  for (var c = tid; c < p.C; c += WG) {
    let v = x[base + c];
    ss += v * v;
  }
  let r = 1.0 / sqrt(wg_sum(tid, ss) / f32(p.C) + p.eps);
  if (tid == 0u) { rstd_out[row] = r; }
  return r;
}

// One workgroup per row.  x: (N,C), w: (C) → y: (N,C), rstd_out: (N)
@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) tid: u32) {
  let row = row_of(wid, nwg);
  if (row >= p.N) { return; }  // uniform across the workgroup
  let base = row * p.C;
  let r = row_rstd(row, base, tid);
  for (var c = tid; c < p.C; c += WG) {
    y[base + c] = x[base + c] * r * w[c];
  }
}

// One workgroup per row, each thread writing whole words.  x: (N,C), w: (C), C even
//   → y16: (N,C/2) f16 pairs, rstd_out: (N)
@compute @workgroup_size(WG)
fn forward_f16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) tid: u32) {
  let row = row_of(wid, nwg);
  if (row >= p.N) { return; }
  let base = row * p.C;
  let r = row_rstd(row, base, tid);
  for (var c = 2u * tid; c < p.C; c += 2u * WG) {
    y16[(base + c) >> 1u] =
      pack_f16(x[base + c] * r * w[c], x[base + c + 1u] * r * w[c + 1u]);
  }
}

// One workgroup per row.  dout, x: (N,C), w_b: (C), rstd: (N) → dx: (N,C)
@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) tid: u32) {
  let row = row_of(wid, nwg);
  if (row >= p.N) { return; }
  let base = row * p.C;
  var gx = 0.0;
  for (var c = tid; c < p.C; c += WG) {
    gx += dout[base + c] * w_b[c] * x[base + c];
  }
  let r = rstd[row];
  let k = wg_sum(tid, gx) * r * r * r / f32(p.C);
  for (var c = tid; c < p.C; c += WG) {
    dx[base + c] = r * (dout[base + c] * w_b[c]) - k * x[base + c];
  }
}

// Workgroups (⌈C/COL_WG⌉, K): thread c of chunk k sums its channel over the chunk's rows in order.
// dout, x: (N,C), rstd: (N) → partial: (K,C)
@compute @workgroup_size(COL_WG)
fn dw_partial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let k = gid.y;
  let r0 = k * p.rows_per_chunk;
  let r1 = min(r0 + p.rows_per_chunk, p.N);
  var acc = 0.0;
  for (var r = r0; r < r1; r++) {
    acc += dout[r * p.C + c] * x[r * p.C + c] * rstd[r];
  }
  partial[k * p.C + c] = acc;
}

// One thread per channel; p.N holds K here.  partial_in: (K,C) → dw: (C) (+=)
@compute @workgroup_size(COL_WG)
fn dw_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  var acc = 0.0;
  for (var k = 0u; k < p.N; k++) {
    acc += partial_in[k * p.C + c];
  }
  dw[c] = dw[c] + acc;
}
