// Global gradient-norm clipping, computed on the GPU so that the step needs no read-back.
// Three stages, every sum in a fixed order so the result is bit-identical run to run and does
// not depend on how the gradients are split across buffers:
//   partial_chunk: state[t] += Σ grads[i]² over the i ≡ t (mod G·WG) of one chunk, ascending
//                  (the first chunk, base 0, starts the sums: state need not be cleared)
//                  grads chunk: (n) at element base of the whole (N), state: (G·WG); once per chunk
//   partial_tree:  partials[w] = tree over state[w·WG .. w·WG + WG)      state: (G·WG), partials: (G)
//   finish:        out = [min(1, max_norm / (norm + 1e-6)), norm],  norm = sqrt(Σ_w partials[w])
//                  partials: (G), out: (2)
// Every entry binds (uniform, dst, src): dst = state / partials / out, src = grads / state / partials.

// Threads per workgroup, a power of two: set by the launcher (no default).
override WG: u32;

// base: partial_chunk's first element in the whole gradient (0 elsewhere).
struct Params { n: u32, max_norm: f32, base: u32 }

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

// One chunk of the gradients, elements base .. base + n of the whole → state: (G·WG) running sums,
// G = number of workgroups (1-D, ≤ 65535). Thread t = w·WG + lid adds, in ascending i, the squares
// of the elements i ≡ t (mod G·WG) in the chunk: chunk after chunk, the same additions in the same
// order as one grid-stride pass over the whole buffer (coalesced reads, chains of N / (G·WG)).
@compute @workgroup_size(WG)
fn partial_chunk(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * WG;
  let t = wid.x * WG + lid;
  var i = t;
  if (i < p.base) { i = t + (p.base - t + stride - 1u) / stride * stride; }
  var s = 0.0;
  if (p.base > 0u) { s = dst[t]; }
  for (; i < p.base + p.n; i = i + stride) {
    let g = src[i - p.base];
    s = s + g * g;
  }
  dst[t] = s;
}

// state: (G·WG) → partials: (G): workgroup w's pairwise tree over its threads' running sums.
@compute @workgroup_size(WG)
fn partial_tree(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  acc[lid] = src[wid.x * WG + lid];
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
