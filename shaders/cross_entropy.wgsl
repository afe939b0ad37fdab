// Softmax cross-entropy over rows of logits, with integer targets.
// logits: (N,V), targets: (N) u32, losses: (N), dlogits: (N,V)
// forward:  losses[i] = logsumexp(logits[i, :]) − logits[i, targets[i]]
// backward: dlogits[i, j] = scale · (softmax(logits[i])[j] − [j = targets[i]])   (written)
// One workgroup per row. Each thread keeps an online (max, Σ exp(x − max)) over a strided slice
// of the row, read once; the pairs are merged in a fixed order in workgroup memory, so the result
// is numerically stable and bit-identical run to run. targets[i] must be < V.

struct Params { N: u32, V: u32, scale: f32 }

// Threads per row, from the launcher (a power of two ≥ 16, so a multiple of 16 for the two-level
// merge). No default: a missing value fails pipeline creation.
override WG: u32;
// Start of every running max: the lowest finite f32, so an empty slice merges as (lowest, 0).
const LOWEST: f32 = -0x1.fffffep+127f;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> logits: array<f32>;   // (N,V)
@group(0) @binding(3) var<storage, read> targets: array<u32>;  // (N)

// binding 1: losses in forward, dlogits in backward (WGSL lets different entry points give one
// binding different variables)
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;   // (N)
@group(0) @binding(1) var<storage, read_write> dlogits: array<f32>;  // (N,V)

// Row index of this workgroup: a 2-D grid so that N may exceed 65535.
fn row_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }

// Merges two (max, Σ exp(x − max)) pairs.
fn merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let m = max(a.x, b.x);
  return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// (max, Σ exp(x − max)) of the row starting at `base`, returned to all threads; every thread must
// call it. Per thread an online pass over a strided slice, then `wg_merge` across the workgroup:
// shaders/wg_merge.wgsl (portable) or shaders/wg_merge_subgroups.wgsl (shader
// "cross_entropy_subgroups", where the runtime uses subgroups), concatenated with this file.
fn row_stats(base: u32, tid: u32) -> vec2<f32> {
  var m = LOWEST;
  var s = 0.0;
  for (var j = tid; j < p.V; j += WG) {
    let v = logits[base + j];
    if (v > m) {
      s = s * exp(m - v) + 1.0;
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  return wg_merge(tid, vec2<f32>(m, s));
}

// One workgroup per row.  logits: (N,V), targets: (N) → losses: (N)
@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) tid: u32) {
  let row = row_of(wid, nwg);
  if (row >= p.N) { return; }  // uniform across the workgroup
  let base = row * p.V;
  let ms = row_stats(base, tid);
  if (tid == 0u) {
    // m − x_t first: it is exact or small, so a large offset shared by the row costs no precision.
    losses[row] = log(ms.y) + (ms.x - logits[base + targets[row]]);
  }
}

// One workgroup per row.  logits: (N,V), targets: (N) → dlogits: (N,V)
@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) tid: u32) {
  let row = row_of(wid, nwg);
  if (row >= p.N) { return; }
  let base = row * p.V;
  let ms = row_stats(base, tid);
  let t = targets[row];
  for (var j = tid; j < p.V; j += WG) {
    var g = exp(logits[base + j] - ms.x) / ms.y;
    if (j == t) { g -= 1.0; }
    dlogits[base + j] = p.scale * g;
  }
}
