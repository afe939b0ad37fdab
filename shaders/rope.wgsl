// Rotary position embedding, Hugging Face LLaMA convention (rotate_half): dimension i is paired
// with i + D/2 (i < D/2) and the pair is rotated by the angle t·theta^(−2i/D) of its position t.
// forward:  out = R(t)·x          backward: dx = R(t)ᵀ·dout = R(−t)·dout
// Both are one kernel: the backward negates sin, which is exact, so both directions rotate with
// bit-identical cos/sin values.

// Threads per workgroup, set by the launcher: no default, so a missing value fails pipeline
// creation.
override WG: u32;

struct Params {
  n: u32,      // pairs = B·T·H·(D/2)
  T: u32,
  H: u32,
  half: u32,   // D/2
  sign: f32,   // +1 forward, −1 backward
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;  // out / dx:   (B,T,H,D)
@group(0) @binding(2) var<storage, read> src: array<f32>;        // x / dout:   (B,T,H,D)
@group(0) @binding(3) var<storage, read> table: array<f32>;      // [cos, sin]: (T,D/2,2)

// One invocation per pair: dst may not alias src (WebGPU forbids it anyway), and the flat
// 2-D grid lets B·T·H·D/2 exceed 65535 workgroups of WG.
// src, dst: (B,T,H,D); table: (T,D/2,2)
@compute @workgroup_size(WG)
fn rotate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.x + gid.y * nwg.x * WG;
  if (k >= p.n) { return; }
  let row = k / p.half;              // (b·T + t)·H + h
  let i = k - row * p.half;          // pair index < D/2
  let t = (row / p.H) % p.T;
  let c = table[2u * (t * p.half + i)];
  let s = p.sign * table[2u * (t * p.half + i) + 1u];
  let lo = row * 2u * p.half + i;    // element i of the row
  let hi = lo + p.half;              // element i + D/2
  let x1 = src[lo];
  let x2 = src[hi];
  dst[lo] = x1 * c - x2 * s;
  dst[hi] = x2 * c + x1 * s;
}
