// Residual add and gradient accumulation (elementwise, flat).
// forward:  out = a + b                      a, b, out: (N)
// backward: dst += src  (the residual passes its gradient to both branches unchanged)

// Threads per workgroup, set by the launcher: no default, so a missing value fails pipeline
// creation.
override WG: u32;

struct Params { n: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;

// 2-D grid so that N may exceed 65535 workgroups of WG.
fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

@compute @workgroup_size(WG)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i < p.n) { out[i] = a[i] + b[i]; }
}

// out += scale * a   (binds only out and a: `layout: "auto"` keeps the bindings an entry uses)
@compute @workgroup_size(WG)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i < p.n) { out[i] = out[i] + p.scale * a[i]; }
}
