// wg_merge with subgroup operations, for devices with the `subgroups` feature; concatenated first
// (an `enable` precedes every declaration), before shaders/cross_entropy.wgsl (`override WG`,
// LOWEST, merge).
enable subgroups;

var<workgroup> red_m: array<f32, WG>;
var<workgroup> red_s: array<f32, WG>;

// Every thread's (max, Σ exp(x − max)) pair `a` merged, returned to all threads; every thread
// must call it, in workgroup-uniform control flow, once per invocation. As wg_sum in
// shaders/wg_sum_subgroups.wgsl: one barrier, then each subgroup merges the whole array itself
// (its k-th active invocation taking slots k, k+n, …), then subgroupMax for the row max and
// subgroupAdd of the sums rescaled to it. Any subgroup size and layout; a fixed order for one.
fn wg_merge(tid: u32, a: vec2<f32>) -> vec2<f32> {
  red_m[tid] = a.x;
  red_s[tid] = a.y;
  workgroupBarrier();
  let rank = subgroupExclusiveAdd(1u);
  let n = subgroupAdd(1u);
  var acc = vec2<f32>(LOWEST, 0.0);
  for (var i = rank; i < WG; i += n) { acc = merge(acc, vec2<f32>(red_m[i], red_s[i])); }
  let m = subgroupMax(acc.x);
  return vec2<f32>(m, subgroupAdd(acc.y * exp(acc.x - m)));
}
