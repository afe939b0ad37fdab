// wg_sum with subgroup operations, for devices with the `subgroups` feature; concatenated first
// (an `enable` precedes every declaration), before a row shader that declares `override WG`.
enable subgroups;

var<workgroup> red: array<f32, WG>;

// Sum of every thread's `v`, returned to all threads; every thread must call it, in
// workgroup-uniform control flow, once per invocation (as the portable one). One barrier instead of the portable two: each subgroup sums the
// whole of `red` itself, its k-th active invocation taking red[k], red[k+n], … (n active), then
// subgroupAdd adds those. Nothing assumes how invocations map onto subgroups nor their size (any
// of WGSL's 4…128, partial subgroups included): the rank among the active invocations is
// subgroupExclusiveAdd(1). The order is fixed for an adapter's subgroup layout, so reruns give the
// same bits; it differs from the portable order in the last bits.
fn wg_sum(tid: u32, v: f32) -> f32 {
  red[tid] = v;
  workgroupBarrier();
  let rank = subgroupExclusiveAdd(1u);
  let n = subgroupAdd(1u);
  var s = 0.0;
  for (var i = rank; i < WG; i += n) { s += red[i]; }
  return subgroupAdd(s);
}
