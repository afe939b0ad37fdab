// wg_sum for every adapter (concatenated after a row shader that declares `override WG`, a power
// of two ≥ 16): the portable path, kept where the device has no subgroups or they are switched off.
var<workgroup> red: array<f32, WG>;
var<workgroup> red16: array<f32, 16>;

// Sum of every thread's `v` in a fixed order, returned to all threads; every thread must call it.
// Two levels of 16 (threads t < 16 sum red[t], red[t+16], …; then all sum those 16) rather than
// an 8-barrier tree: the same cost on GPUs, and barriers are what make SwiftShader slow.
fn wg_sum(tid: u32, v: f32) -> f32 {
  red[tid] = v;
  workgroupBarrier();
  if (tid < 16u) {
    var s = 0.0;
    for (var i = tid; i < WG; i += 16u) { s += red[i]; }
    red16[tid] = s;
  }
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < 16u; i++) { total += red16[i]; }
  return total;
}
