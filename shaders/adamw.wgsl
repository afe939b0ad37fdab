// AdamW step (PyTorch semantics: decoupled weight decay), elementwise over N parameters.
//   params, grads, m, v: (N)   clip: (≥1), clip[0] = gradient scale from grad_clip
//   g = grads·clip[0]
//   p = p·decay                       decay = 1 − lr·wd
//   m = β1·m + (1−β1)·g
//   v = β2·v + (1−β2)·g²
//   p = p − step_size·m / (sqrt(v)·inv_bc2_sqrt + eps)
//       step_size = lr / (1 − β1^t), inv_bc2_sqrt = 1 / sqrt(1 − β2^t)
// Everything that depends only on the hyper-parameters and t is computed in float64 on the CPU
// and arrives as f32 uniforms, so the kernel does no pow() and no per-element bias correction.

// Threads per workgroup, set by the launcher: no default, so a missing value fails pipeline
// creation.
override WG: u32;

struct Params {
  n: u32,
  decay: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  step_size: f32,
  inv_bc2_sqrt: f32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> clip: array<f32>;

// 2-D grid so that N may exceed 65535 workgroups of WG.
fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// params, grads, m, v: (N); clip: (≥1)
@compute @workgroup_size(WG)
fn update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let g = grads[i] * clip[0];
  let mi = p.beta1 * m[i] + p.one_minus_beta1 * g;
  let vi = p.beta2 * v[i] + p.one_minus_beta2 * (g * g);
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) * p.inv_bc2_sqrt + p.eps;
  params[i] = params[i] * p.decay - p.step_size * (mi / denom);
}
