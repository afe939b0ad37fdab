// Token embedding: a row gather forward, and a deterministic scatter-add backward.
// tokens: (BT) u32; wte, dwte: (V,C); out, dout: (BT,C)
// forward:  out[i, :] = wte[tokens[i], :]
// backward: dwte[v, :] += Σ_{p : tokens[p] = v} dout[p, :]
//   Atomics would make the sum's order (and so its bits) depend on scheduling; instead the batch's
//   inverse index (built on the CPU) lists each token's positions in ascending order and one thread
//   per (v, c) sums them in that order.
//   row_start: (V+1) u32, positions: (BT) u32: the positions of v are
//   positions[row_start[v] .. row_start[v+1]).

// Threads per workgroup, set by the launcher: no default, so a missing value fails pipeline
// creation.
override WG: u32;

struct Params { rows: u32, C: u32 }   // rows: BT (forward) or V (backward)

@group(0) @binding(0) var<uniform> p: Params;

// forward (bindings 1..3)
@group(0) @binding(1) var<storage, read_write> out: array<f32>;   // (BT,C)
@group(0) @binding(2) var<storage, read> tokens: array<u32>;      // (BT)
@group(0) @binding(3) var<storage, read> wte: array<f32>;         // (V,C)

// backward (bindings 1..4; WGSL lets different entry points give one binding different variables)
@group(0) @binding(1) var<storage, read_write> dwte: array<f32>;  // (V,C)
@group(0) @binding(2) var<storage, read> dout: array<f32>;        // (BT,C)
@group(0) @binding(3) var<storage, read> row_start: array<u32>;   // (V+1)
@group(0) @binding(4) var<storage, read> positions: array<u32>;   // (BT)

// 2-D grid so that rows·C may exceed 65535 workgroups of WG.
fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// One thread per output element (BT·C): consecutive threads copy consecutive channels of a row.
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.rows * p.C) { return; }
  let row = i / p.C;
  let c = i - row * p.C;
  out[i] = wte[tokens[row] * p.C + c];
}

// One thread per dwte element (V·C). Tokens absent from the batch touch nothing: for them the
// update costs two reads of row_start.
@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.rows * p.C) { return; }
  let v = i / p.C;
  let c = i - v * p.C;
  let start = row_start[v];
  let end = row_start[v + 1u];
  if (start == end) { return; }
  var acc = 0.0;
  for (var k = start; k < end; k++) {
    acc += dout[positions[k] * p.C + c];
  }
  dwte[i] = dwte[i] + acc;
}
