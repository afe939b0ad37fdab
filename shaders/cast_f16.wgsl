// f32 → f16 pairs packed in u32 words (shaders/f16_pack.wgsl, appended by the loader: pack_f16
// saturates at ±65504), the storage format of shaders/matmul_f16.wgsl. Rounding is the
// implementation's f32 → f16 conversion (SwiftShader and lavapipe round to nearest even, checked
// against the reference in test/kernels/matmul_f16_cases.ts).

// WG: threads per workgroup, set by the launcher (src/kernels/matmul_f16.ts).
override WG: u32;

struct Params {
  // elements of x
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// out: ceil(n/2) words; an odd n's last high half is 0.
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
// x: n f32
@group(0) @binding(2) var<storage, read> x: array<f32>;

// One thread per output word. Flat 2-D grid of WG-thread workgroups (grid1d).
@compute @workgroup_size(WG)
fn to_f16(@builtin(global_invocation_id) gid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * WG;
  let i = 2u * w;
  if (i >= p.n) { return; }
  let lo = x[i];
  var hi = 0.0;
  if (i + 1u < p.n) { hi = x[i + 1u]; }
  out[w] = pack_f16(lo, hi);
}
