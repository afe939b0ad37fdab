// Global gradient-norm clipping, computed on the GPU so that the step needs no read-back.
// Two stages, every sum in a fixed order so the result is bit-identical run to run:
//   partial:  partials[w] = Σ grads[i]²  over the elements workgroup w visits   grads: (N), partials: (G)
//   finish:   out = [min(1, max_norm / (norm + 1e-6)), norm],  norm = sqrt(Σ_w partials[w])
//             partials: (G), out: (2)
// Both entries bind (uniform, dst, src): dst = partials / out, src = grads / partials.

// Threads per workgroup, a power of two: set by the launcher (no default).
override WG: u32;

struct Params { n: u32, max_norm: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;

var<workgroup> acc: array<f32, WG>;

// Pairwise tree over the WG per-thread sums (WG a power of two): fixed order, error grows with
// log2, not length.
fn tree_sum(lid: u32) -> f32 {
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { acc[lid] = acc[lid] + acc[lid + s]; }
    workgroupBarrier();
  }
  return acc[0];
}

// grads: (N) → partials: (G), one per workgroup; G = number of workgroups (1-D, ≤ 65535).
// Grid-stride loop so that each thread's sequential chain is N / (WG·G) long and reads coalesce.
@compute @workgroup_size(WG)
fn partial(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * WG;
  var s = 0.0;
  for (var i = wid.x * WG + lid; i < p.n; i = i + stride) {
    let g = src[i];
    s = s + g * g;
  }
  acc[lid] = s;
  workgroupBarrier();
  let total = tree_sum(lid);
  if (lid == 0u) { dst[wid.x] = total; }
}

// partials: (G) with G = p.n → out: (2) = [scale, norm]. Dispatch exactly one workgroup.
@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < p.n; i = i + WG) { s = s + src[i]; }
  acc[lid] = s;
  workgroupBarrier();
  let total = tree_sum(lid);
  if (lid == 0u) {
    let norm = sqrt(total);
    dst[0] = min(1.0, p.max_norm / (norm + 1e-6));
    dst[1] = norm;
  }
}
