// wg_merge for every adapter (concatenated after shaders/cross_entropy.wgsl: `override WG`, a
// power of two ≥ 16, LOWEST and merge): the portable path, kept where subgroups are off.
var<workgroup> red_m: array<f32, WG>;
var<workgroup> red_s: array<f32, WG>;
var<workgroup> red16_m: array<f32, 16>;
var<workgroup> red16_s: array<f32, 16>;

// Every thread's (max, Σ exp(x − max)) pair `a` merged in a fixed order, returned to all threads;
// every thread must call it, once per invocation. Two fixed levels of 16 (threads t < 16 merge
// slots t, t+16, …; then all merge those 16): 2 barriers instead of a tree's 8, the same cost on
// GPUs and much cheaper on SwiftShader.
fn wg_merge(tid: u32, a: vec2<f32>) -> vec2<f32> {
  red_m[tid] = a.x;
  red_s[tid] = a.y;
  workgroupBarrier();
  if (tid < 16u) {
    var acc = vec2<f32>(LOWEST, 0.0);
    for (var i = tid; i < WG; i += 16u) { acc = merge(acc, vec2<f32>(red_m[i], red_s[i])); }
    red16_m[tid] = acc.x;
    red16_s[tid] = acc.y;
  }
  workgroupBarrier();
  var total = vec2<f32>(LOWEST, 0.0);
  for (var i = 0u; i < 16u; i++) { total = merge(total, vec2<f32>(red16_m[i], red16_s[i])); }
  return total;
}
