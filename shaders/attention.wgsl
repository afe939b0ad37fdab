// Causal grouped-query attention, flash-attention style (no T×T matrix), deterministic:
// every sum runs in a fixed order and no atomics are used.
//   query head h reads kv head h / G, G = NH / NKV; scores s_ts = (scale·q_t)·k_s for s ≤ t.
// forward:       out_t = Σ_s softmax(s_t)_s v_s,  lse_t = log Σ_s exp(s_ts)   (online softmax)
// backward_dq:   delta_t = dout_t·out_t;  p = exp(s_ts − lse_t);
//                dq_t = scale·Σ_s p(dout_t·v_s − delta_t) k_s
// backward_dkdv: dv_s = Σ_h Σ_{t≥s} p dout_t;  dk_s = scale·Σ_h Σ_{t≥s} p(dout_t·v_s − delta_t) q_t
//
// Each invocation owns one row (a query row; a key row for dk/dv) in private arrays, and a
// workgroup of WG rows streams tiles of the other side through workgroup memory. Rows are vec4s:
// D is a multiple of 4 and the pipeline constant D4 = D/4, so loops have a fixed trip count
// that compilers can unroll, keeping the rows in registers.
// Bindings are shared between the entry points (with `layout: "auto"` an entry must use exactly
// bindings 1..n), hence the role-neutral names of bindings 1, 2 and 8.

// Constants from the launcher (src/kernels/attention.ts), none with a default here:
// the const header it prepends (values that size function-scope arrays, which must be
// const-expressions):  WG = rows per workgroup (= invocations);  MAX_D4 = largest head dim / 4.
override D4: u32;      // head dim / 4, set per pipeline
override TILE4: u32;   // vec4s per tile array: R = min(WG, TILE4 / D4) rows per tile

struct Params {
  B: u32,
  T: u32,
  NH: u32,
  NKV: u32,
  R: u32,       // rows per tile
  scale: f32,   // 1/sqrt(D)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w1: array<vec4<f32>>;  // forward: out; dq: dq; dkdv: dk
@group(0) @binding(2) var<storage, read_write> w2: array<f32>;        // forward: lse; dq: delta; dkdv: dv
@group(0) @binding(3) var<storage, read> q: array<vec4<f32>>;         // (B,T,NH,D)
@group(0) @binding(4) var<storage, read> k: array<vec4<f32>>;         // (B,T,NKV,D)
@group(0) @binding(5) var<storage, read> v: array<vec4<f32>>;         // (B,T,NKV,D)
@group(0) @binding(6) var<storage, read> dout: array<vec4<f32>>;      // (B,T,NH,D)
@group(0) @binding(7) var<storage, read> lse: array<f32>;             // (B,NH,T)
@group(0) @binding(8) var<storage, read> r8: array<f32>;              // dq: out (B,T,NH,D); dkdv: delta (B,NH,T)

// 2·2 KiB + 2·256 B. Kept small on purpose: SwiftShader's compile time grows with workgroup
// memory (~2 s per pipeline at 14 KiB), and R only sets how often a workgroup synchronises:
// each tile serves all WG rows whatever its size.
var<workgroup> ta: array<vec4<f32>, TILE4>;
var<workgroup> tb: array<vec4<f32>, TILE4>;
var<workgroup> tc: array<f32, WG>;
var<workgroup> td: array<f32, WG>;

// Loads key rows k0..k0+rows−1 of kv head kvh: k → ta, v → tb, each (rows, D).
fn load_kv(b: u32, kvh: u32, k0: u32, rows: u32, lid: u32) {
  for (var i = lid; i < rows * D4; i += WG) {
    let j = i / D4;
    let src = ((b * p.T + k0 + j) * p.NKV + kvh) * D4 + (i - j * D4);
    ta[i] = k[src];
    tb[i] = v[src];
  }
}

// Grid (ceil(T/WG), NH, B); invocation = query row t of head h.
// q: (B,T,NH,D); k, v: (B,T,NKV,D) → out (w1): (B,T,NH,D); lse (w2): (B,NH,T)
@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let T = p.T;
  let R = p.R;
  let b = wid.z;
  let h = wid.y;
  let kvh = h / (p.NH / p.NKV);
  let q0 = wid.x * WG;
  let t = q0 + lid;
  let valid = t < T;
  let last = min(q0 + WG, T) - 1u;  // keys 0..last serve every row of this workgroup
  let row = ((b * T + min(t, T - 1u)) * p.NH + h) * D4;

  var qr: array<vec4<f32>, MAX_D4>;   // scale·q_t
  var acc: array<vec4<f32>, MAX_D4>;  // Σ exp(s − m) v_s
  var sc: array<f32, WG>;             // this tile's scores
  for (var c = 0u; c < D4; c++) { qr[c] = q[row + c] * p.scale; }
  var m = -1e30;  // running max (finite: WGSL may assume no infinities)
  var l = 0.0;    // Σ exp(s − m)

  for (var k0 = 0u; k0 <= last; k0 += R) {
    let rows = min(R, T - k0);
    load_kv(b, kvh, k0, rows, lid);
    workgroupBarrier();
    var n = 0u;  // keys of this tile that row t sees
    if (valid && t >= k0) { n = min(rows, t - k0 + 1u); }
    if (n > 0u) {
      // Scores first, so that the running sums are rescaled once per tile, not per key.
      var mt = m;
      for (var j = 0u; j < n; j++) {
        var s = 0.0;
        for (var c = 0u; c < D4; c++) { s += dot(qr[c], ta[j * D4 + c]); }
        sc[j] = s;
        mt = max(mt, s);
      }
      if (mt > m) {
        let corr = select(exp(m - mt), 0.0, l == 0.0);
        l *= corr;
        for (var c = 0u; c < D4; c++) { acc[c] *= corr; }
        m = mt;
      }
      for (var j = 0u; j < n; j++) {
        let e = exp(sc[j] - m);
        l += e;
        for (var c = 0u; c < D4; c++) { acc[c] += e * tb[j * D4 + c]; }
      }
    }
    workgroupBarrier();
  }
  if (valid) {
    let inv = 1.0 / l;
    for (var c = 0u; c < D4; c++) { w1[row + c] = acc[c] * inv; }
    w2[(b * p.NH + h) * T + t] = m + log(l);
  }
}

// Grid (ceil(T/WG), NH, B); invocation = query row t of head h. Also writes delta for dkdv.
// q, dout, out (r8): (B,T,NH,D); k, v: (B,T,NKV,D); lse: (B,NH,T)
//   → dq (w1): (B,T,NH,D); delta (w2): (B,NH,T)
@compute @workgroup_size(WG)
fn backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let T = p.T;
  let R = p.R;
  let b = wid.z;
  let h = wid.y;
  let kvh = h / (p.NH / p.NKV);
  let q0 = wid.x * WG;
  let t = q0 + lid;
  let valid = t < T;
  let last = min(q0 + WG, T) - 1u;
  let tt = min(t, T - 1u);
  let row = ((b * T + tt) * p.NH + h) * D4;
  let li = (b * p.NH + h) * T + tt;

  var qr: array<vec4<f32>, MAX_D4>;   // scale·q_t, as in forward so that the scores match it
  var gr: array<vec4<f32>, MAX_D4>;   // dout_t
  var acc: array<vec4<f32>, MAX_D4>;  // Σ ds·k_s
  var delta = 0.0;
  for (var c = 0u; c < D4; c++) {
    qr[c] = q[row + c] * p.scale;
    gr[c] = dout[row + c];
    let o = 4u * (row + c);
    delta += dot(gr[c], vec4<f32>(r8[o], r8[o + 1u], r8[o + 2u], r8[o + 3u]));
  }
  let lse_t = lse[li];
  if (valid) { w2[li] = delta; }

  for (var k0 = 0u; k0 <= last; k0 += R) {
    let rows = min(R, T - k0);
    load_kv(b, kvh, k0, rows, lid);
    workgroupBarrier();
    var n = 0u;
    if (valid && t >= k0) { n = min(rows, t - k0 + 1u); }
    for (var j = 0u; j < n; j++) {
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0u; c < D4; c++) {
        s += dot(qr[c], ta[j * D4 + c]);
        dp += dot(gr[c], tb[j * D4 + c]);
      }
      let ds = exp(s - lse_t) * (dp - delta);
      for (var c = 0u; c < D4; c++) { acc[c] += ds * ta[j * D4 + c]; }
    }
    workgroupBarrier();
  }
  if (valid) {
    for (var c = 0u; c < D4; c++) { w1[row + c] = acc[c] * p.scale; }
  }
}

// Grid (ceil(T/WG), NKV, B); invocation = key row s of kv head kvh, summing over the G query
// heads of its group and then the rows t ≥ s.
// q, dout: (B,T,NH,D); k, v: (B,T,NKV,D); lse, delta (r8): (B,NH,T) → dk (w1), dv (w2): (B,T,NKV,D)
@compute @workgroup_size(WG)
fn backward_dkdv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let T = p.T;
  let R = p.R;
  let b = wid.z;
  let kvh = wid.y;
  let G = p.NH / p.NKV;
  let s0 = wid.x * WG;
  let s = s0 + lid;
  let valid = s < T;
  let row = ((b * T + min(s, T - 1u)) * p.NKV + kvh) * D4;

  var kr: array<vec4<f32>, MAX_D4>;
  var vr: array<vec4<f32>, MAX_D4>;
  var dk: array<vec4<f32>, MAX_D4>;
  var dv: array<vec4<f32>, MAX_D4>;
  for (var c = 0u; c < D4; c++) {
    kr[c] = k[row + c];
    vr[c] = v[row + c];
  }

  for (var g = 0u; g < G; g++) {
    let h = kvh * G + g;
    for (var t0 = s0; t0 < T; t0 += R) {
      let rows = min(R, T - t0);
      // ta = scale·q (the forward's scaled query), tb = dout, tc = lse, td = delta.
      for (var i = lid; i < rows * D4; i += WG) {
        let j = i / D4;
        let src = ((b * T + t0 + j) * p.NH + h) * D4 + (i - j * D4);
        ta[i] = q[src] * p.scale;
        tb[i] = dout[src];
      }
      for (var i = lid; i < rows; i += WG) {
        tc[i] = lse[(b * p.NH + h) * T + t0 + i];
        td[i] = r8[(b * p.NH + h) * T + t0 + i];
      }
      workgroupBarrier();
      if (valid) {
        // Rows t = t0 + j with t ≥ s.
        for (var j = select(0u, s - t0, s > t0); j < rows; j++) {
          var sco = 0.0;
          var dp = 0.0;
          for (var c = 0u; c < D4; c++) {
            sco += dot(ta[j * D4 + c], kr[c]);
            dp += dot(tb[j * D4 + c], vr[c]);
          }
          let pr = exp(sco - tc[j]);
          let ds = pr * (dp - td[j]);
          for (var c = 0u; c < D4; c++) {
            dv[c] += pr * tb[j * D4 + c];
            dk[c] += ds * ta[j * D4 + c];  // ta already carries the scale
          }
        }
      }
      workgroupBarrier();
    }
  }
  if (valid) {
    for (var c = 0u; c < D4; c++) {
      w1[row + c] = dk[c];
      let o = 4u * (row + c);
      w2[o] = dv[c].x;
      w2[o + 1u] = dv[c].y;
      w2[o + 2u] = dv[c].z;
      w2[o + 3u] = dv[c].w;
    }
  }
}
