// SwiGLU gate, elementwise over n elements (the matmuls around it live elsewhere).
// forward:  out = silu(gate) · up,  silu(g) = g · σ(g)                 gate, up, out: (n)
// forward_f16: the same written as f16 pairs packed in u32 words (shaders/f16_pack.wgsl,
//           appended by the loader): out16 (ceil(n/2)), an odd n's last high half 0.
// backward: dgate = dout · up · σ(g) · (1 + g · (1 − σ(g)))            dout, dgate, dup: (n)
//           dup   = dout · silu(g)

// Threads per workgroup, set by the launcher: no default, so a missing value fails pipeline
// creation.
override WG: u32;

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;

// forward (bindings 1..3)
@group(0) @binding(1) var<storage, read_write> out: array<f32>;   // (n)
@group(0) @binding(2) var<storage, read> gate: array<f32>;        // (n)
@group(0) @binding(3) var<storage, read> up: array<f32>;          // (n)
// forward_f16 (bindings 1..3, as forward with out packed)
@group(0) @binding(1) var<storage, read_write> out16: array<u32>; // (ceil(n/2)) f16 pairs

// backward (bindings 1..5; WGSL lets different entry points give one binding different
// variables)
@group(0) @binding(1) var<storage, read_write> dgate: array<f32>; // (n)
@group(0) @binding(2) var<storage, read_write> dup: array<f32>;   // (n)
@group(0) @binding(3) var<storage, read> dout: array<f32>;        // (n)
@group(0) @binding(4) var<storage, read> gate_b: array<f32>;      // (n) gate again
@group(0) @binding(5) var<storage, read> up_b: array<f32>;        // (n) up again

// 2-D grid so that n may exceed 65535 workgroups of WG.
fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// σ(g) = 1 / (1 + e^−g): for very negative g, e^−g overflows to +inf and σ is 0, not NaN.
fn sigmoid(g: f32) -> f32 { return 1.0 / (1.0 + exp(-g)); }

// silu(gate[i]) · up[i]
fn swiglu_at(i: u32) -> f32 {
  let g = gate[i];
  return g * sigmoid(g) * up[i];
}

// gate, up, out: (n)
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  out[i] = swiglu_at(i);
}

// One thread per output word.  gate, up: (n) → out16: (ceil(n/2)) f16 pairs
@compute @workgroup_size(WG)
fn forward_f16(@builtin(global_invocation_id) gid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = 2u * flat(gid, nwg);
  if (i >= p.n) { return; }
  var hi = 0.0;
  if (i + 1u < p.n) { hi = swiglu_at(i + 1u); }
  out16[i >> 1u] = pack_f16(swiglu_at(i), hi);
}

// dout, gate, up → dgate, dup: (n), both written
@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let g = gate_b[i];
  let s = sigmoid(g);
  let d = dout[i];
  dgate[i] = d * up_b[i] * s * (1.0 + g * (1.0 - s));
  dup[i] = d * g * s;
}
