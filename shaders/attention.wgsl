// Causal grouped-query attention, FlashAttention-2 style: tiled, online softmax, no T×T matrix,
// deterministic (every sum runs in a fixed order, no atomics).
//   query head h reads kv head h / G, G = NH / NKV; scores s_ts = (scale·q_t)·k_s for s ≤ t.
// forward:       out_t = Σ_s softmax(s_t)_s v_s,  lse_t = log Σ_s exp(s_ts)   (online softmax)
// backward_dq:   delta_t = dout_t·out_t;  p = exp(s_ts − lse_t);
//                dq_t = scale·Σ_s p(dout_t·v_s − delta_t) k_s
// backward_dkdv: dv_s = Σ_h Σ_{t≥s} p dout_t;  dk_s = scale·Σ_h Σ_{t≥s} p(dout_t·v_s − delta_t) q_t
// forward_f16, backward_dq_f16: the same with `out` stored as f16 pairs packed in u32 words
//   (shaders/f16_pack.wgsl, appended by the loader): written rounded by forward_f16, read (as
//   those f16 values, for delta) by backward_dq_f16.
//
// A workgroup owns BR rows (query rows; key rows for dk/dv) of one head and streams BC-row tiles
// of the other side through workgroup memory. Each row is split over TPR invocations ("lanes"):
// lane l holds the row's vec4 columns c = l + i·TPR, i < NC, so no invocation keeps more than NC
// vec4s per row operand (NC ≤ 4: at most 16 floats, whatever D and T). A score is a dot product
// over all D columns, so each lane writes its partial dot to workgroup memory and, after a
// barrier, every lane of the row sums the TPR partials in lane order: all lanes of a row get
// bit-identical scores, maxima and sums, and the results do not depend on scheduling.
// Bindings are shared between the entry points (with `layout: "auto"` an entry must use exactly
// bindings 1..n), hence the role-neutral names of bindings 1, 2 and 8.

// The launcher's (src/kernels/attention.ts) const header, none declared here: they size
// workgroup and function-scope arrays, which must be const-expressions.
//   D4 = head dim / 4;  BR = rows per workgroup;  TPR = lanes per row;  BC = rows per streamed
//   tile;  NC = vec4 columns per lane = ceil(D4 / TPR).
const WG = BR * TPR;

struct Params {
  B: u32,
  T: u32,
  NH: u32,
  NKV: u32,
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
// The packed-out entries' own views of bindings 1 and 8: a vec4 column of out is one vec2 of
// f16-pair words.
@group(0) @binding(1) var<storage, read_write> o16: array<vec2<u32>>;  // forward_f16: out (B,T,NH,D/4)
@group(0) @binding(8) var<storage, read> o16_in: array<vec2<u32>>;     // dq_f16: out (B,T,NH,D/4)

// Streamed tiles (BC, D): forward, dq: k → ta, v → tb; dkdv: scale·q → ta, dout → tb.
var<workgroup> ta: array<vec4<f32>, BC * D4>;
var<workgroup> tb: array<vec4<f32>, BC * D4>;
// Per-lane partial dot products, (BR, BC, TPR): scores; and dout·v for the backward passes.
var<workgroup> ps: array<f32, BR * BC * TPR>;
var<workgroup> pd: array<f32, BR * BC * TPR>;
// dkdv: lse and delta of the streamed query rows.
var<workgroup> tc: array<f32, BC>;
var<workgroup> td: array<f32, BC>;

// Key rows k0..k0+BC−1 of kv head kvh: k → ta, v → tb. Rows past T are zero (their scores are
// masked; zeros keep the products finite). (WGSL without unrestricted_pointer_parameters
// cannot pass a storage array to a function, hence one loader and one sum per array.)
fn load_kv(b: u32, kvh: u32, k0: u32, lid: u32) {
  for (var i = lid; i < BC * D4; i += WG) {
    let j = i / D4;
    var a = vec4<f32>(0.0);
    var c = vec4<f32>(0.0);
    if (k0 + j < p.T) {
      let src = ((b * p.T + k0 + j) * p.NKV + kvh) * D4 + (i - j * D4);
      a = k[src];
      c = v[src];
    }
    ta[i] = a;
    tb[i] = c;
  }
}

// Query rows t0..t0+BC−1 of head h: scale·q → ta, dout → tb, lse → tc, delta (r8) → td; rows
// past T as in load_kv.
fn load_qg(b: u32, h: u32, t0: u32, lid: u32) {
  for (var i = lid; i < BC * D4; i += WG) {
    let j = i / D4;
    var a = vec4<f32>(0.0);
    var c = vec4<f32>(0.0);
    if (t0 + j < p.T) {
      let src = ((b * p.T + t0 + j) * p.NH + h) * D4 + (i - j * D4);
      a = q[src] * p.scale;
      c = dout[src];
    }
    ta[i] = a;
    tb[i] = c;
  }
  for (var i = lid; i < BC; i += WG) {
    let li = (b * p.NH + h) * p.T + min(t0 + i, p.T - 1u);
    tc[i] = lse[li];
    td[i] = r8[li];
  }
}

// How many keys k0, k0+1, … of a tile query row t sees: those ≤ t (and < T), so that the loops
// skip masked keys instead of computing and discarding them.
fn seen(k0: u32, t: u32) -> u32 {
  if (t < k0) { return 0u; }
  return min(min(BC, t - k0 + 1u), p.T - k0);
}

// Row r's score (sum_s) or dout·v (sum_d) with key/query j: its TPR partials summed in lane order.
fn sum_s(r: u32, j: u32) -> f32 {
  var s = 0.0;
  for (var u = 0u; u < TPR; u++) { s += ps[(r * BC + j) * TPR + u]; }
  return s;
}

fn sum_d(r: u32, j: u32) -> f32 {
  var s = 0.0;
  for (var u = 0u; u < TPR; u++) { s += pd[(r * BC + j) * TPR + u]; }
  return s;
}

// Where a query-row invocation works: grid (ceil(T/BR), NH, B), lane `lane` of query row t
// (clamped to T − 1 in `row`, its first vec4 column in q/out) of head h. Non-uniform as a whole
// (uniformity analysis does not split a struct): loop bounds around barriers come from `kend`.
struct QRow { b: u32, h: u32, kvh: u32, r: u32, lane: u32, t: u32, row: u32 }

fn q_row(wid: vec3<u32>, lid: u32) -> QRow {
  let T = p.T;
  let h = wid.y;
  let r = lid / TPR;
  let q0 = wid.x * BR;
  let t = q0 + r;
  return QRow(wid.z, h, h / (p.NH / p.NKV), r, lid % TPR, t,
              ((wid.z * T + min(t, T - 1u)) * p.NH + h) * D4);
}

// One lane's columns of out_t and lse_t (forward and forward_f16 differ only in the store).
struct Attended { o: array<vec4<f32>, NC>, lse: f32 }

// Keys 0..kend−1 serve every row of workgroup `wid` (uniform: it bounds the barrier loops).
fn kend_of(wid: vec3<u32>) -> u32 { return min(wid.x * BR + BR, p.T); }

// The forward of query row i.t up to its normalised output; every invocation must call it.
fn attend(i: QRow, lid: u32, kend: u32) -> Attended {
  let r = i.r;
  let lane = i.lane;
  let t = i.t;

  var qr: array<vec4<f32>, NC>;   // this lane's columns of scale·q_t
  var acc: array<vec4<f32>, NC>;  // this lane's columns of Σ exp(s − m) v_s
  var sc: array<f32, BC>;         // this tile's scores of row t
  for (var c4 = 0u; c4 < NC; c4++) {
    let c = lane + c4 * TPR;
    if (c < D4) { qr[c4] = q[i.row + c] * p.scale; }
  }
  var m = -1e30;  // running max (finite: WGSL may assume no infinities)
  var l = 0.0;    // Σ exp(s − m)

  for (var k0 = 0u; k0 < kend; k0 += BC) {
    load_kv(i.b, i.kvh, k0, lid);
    workgroupBarrier();
    let n = seen(k0, t);
    for (var j = 0u; j < n; j++) {
      var s = 0.0;
      for (var c4 = 0u; c4 < NC; c4++) {
        let c = lane + c4 * TPR;
        if (c < D4) { s += dot(qr[c4], ta[j * D4 + c]); }
      }
      ps[(r * BC + j) * TPR + lane] = s;
    }
    workgroupBarrier();
    // Scores first, so that the running sums are rescaled once per tile, not per key.
    var mt = m;
    for (var j = 0u; j < n; j++) {
      sc[j] = sum_s(r, j);
      mt = max(mt, sc[j]);
    }
    let corr = exp(m - mt);  // 0 on the first tile (l and acc are 0 then), 1 if the max held
    l *= corr;
    for (var c4 = 0u; c4 < NC; c4++) { acc[c4] *= corr; }
    m = mt;
    for (var j = 0u; j < n; j++) {
      let e = exp(sc[j] - m);
      l += e;
      for (var c4 = 0u; c4 < NC; c4++) {
        let c = lane + c4 * TPR;
        if (c < D4) { acc[c4] += e * tb[j * D4 + c]; }
      }
    }
    workgroupBarrier();
  }
  let inv = 1.0 / l;
  for (var c4 = 0u; c4 < NC; c4++) { acc[c4] *= inv; }
  return Attended(acc, m + log(l));
}

// q: (B,T,NH,D); k, v: (B,T,NKV,D) → out (w1): (B,T,NH,D); lse (w2): (B,NH,T)
@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = q_row(wid, lid);
  let a = attend(i, lid, kend_of(wid));
  if (i.t < p.T) {
    for (var c4 = 0u; c4 < NC; c4++) {
      let c = i.lane + c4 * TPR;
      if (c < D4) { w1[i.row + c] = a.o[c4]; }
    }
    if (i.lane == 0u) { w2[(i.b * p.NH + i.h) * p.T + i.t] = a.lse; }
  }
}

// As forward with out rounded to f16: → out (o16): (B,T,NH,D/4) vec2s of f16 pairs; lse (w2)
@compute @workgroup_size(WG)
fn forward_f16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = q_row(wid, lid);
  let a = attend(i, lid, kend_of(wid));
  if (i.t < p.T) {
    for (var c4 = 0u; c4 < NC; c4++) {
      let c = i.lane + c4 * TPR;
      if (c < D4) {
        let o = a.o[c4];
        o16[i.row + c] = vec2<u32>(pack_f16(o.x, o.y), pack_f16(o.z, o.w));
      }
    }
    if (i.lane == 0u) { w2[(i.b * p.NH + i.h) * p.T + i.t] = a.lse; }
  }
}

// dq of query row i.t and its delta = dout_t·out_t, given this lane's columns of out_t (from
// r8 or, packed, from o16_in); every invocation must call it.
// q, dout: (B,T,NH,D); k, v: (B,T,NKV,D); lse: (B,NH,T) → dq (w1): (B,T,NH,D); delta (w2): (B,NH,T)
fn dq_rows(i: QRow, lid: u32, kend: u32, ov: array<vec4<f32>, NC>) {
  let T = p.T;
  let r = i.r;
  let lane = i.lane;
  let t = i.t;
  let row = i.row;
  let li = (i.b * p.NH + i.h) * T + min(t, T - 1u);

  var qr: array<vec4<f32>, NC>;   // scale·q_t, as in forward so that the scores match it
  var gr: array<vec4<f32>, NC>;   // dout_t
  var acc: array<vec4<f32>, NC>;  // Σ ds·k_s
  var part = 0.0;
  for (var c4 = 0u; c4 < NC; c4++) {
    let c = lane + c4 * TPR;
    if (c < D4) {
      qr[c4] = q[row + c] * p.scale;
      gr[c4] = dout[row + c];
      part += dot(gr[c4], ov[c4]);
    }
  }
  ps[r * BC * TPR + lane] = part;
  workgroupBarrier();
  let delta = sum_s(r, 0u);
  let lse_t = lse[li];
  if (t < T && lane == 0u) { w2[li] = delta; }

  for (var k0 = 0u; k0 < kend; k0 += BC) {
    workgroupBarrier();  // the previous tile (or delta's partials) fully read
    load_kv(i.b, i.kvh, k0, lid);
    workgroupBarrier();
    let n = seen(k0, t);
    for (var j = 0u; j < n; j++) {
      var s = 0.0;
      var dp = 0.0;
      for (var c4 = 0u; c4 < NC; c4++) {
        let c = lane + c4 * TPR;
        if (c < D4) {
          s += dot(qr[c4], ta[j * D4 + c]);
          dp += dot(gr[c4], tb[j * D4 + c]);
        }
      }
      ps[(r * BC + j) * TPR + lane] = s;
      pd[(r * BC + j) * TPR + lane] = dp;
    }
    workgroupBarrier();
    for (var j = 0u; j < n; j++) {
      let ds = exp(sum_s(r, j) - lse_t) * (sum_d(r, j) - delta);
      for (var c4 = 0u; c4 < NC; c4++) {
        let c = lane + c4 * TPR;
        if (c < D4) { acc[c4] += ds * ta[j * D4 + c]; }
      }
    }
  }
  if (t < T) {
    for (var c4 = 0u; c4 < NC; c4++) {
      let c = lane + c4 * TPR;
      if (c < D4) { w1[row + c] = acc[c4] * p.scale; }
    }
  }
}

// Grid (ceil(T/BR), NH, B); invocation = lane `lane` of query row t of head h. Also writes
// delta for dkdv.  out (r8): (B,T,NH,D); the rest as dq_rows.
@compute @workgroup_size(WG)
fn backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = q_row(wid, lid);
  var ov: array<vec4<f32>, NC>;
  for (var c4 = 0u; c4 < NC; c4++) {
    let c = i.lane + c4 * TPR;
    if (c < D4) {
      let o = 4u * (i.row + c);
      ov[c4] = vec4<f32>(r8[o], r8[o + 1u], r8[o + 2u], r8[o + 3u]);
    }
  }
  dq_rows(i, lid, kend_of(wid), ov);
}

// As backward_dq with out read as f16 pairs (o16_in: (B,T,NH,D/4) vec2s, from forward_f16).
@compute @workgroup_size(WG)
fn backward_dq_f16(@builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let i = q_row(wid, lid);
  var ov: array<vec4<f32>, NC>;
  for (var c4 = 0u; c4 < NC; c4++) {
    let c = i.lane + c4 * TPR;
    if (c < D4) {
      let w = o16_in[i.row + c];
      ov[c4] = vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
    }
  }
  dq_rows(i, lid, kend_of(wid), ov);
}

// Grid (ceil(T/BR), NKV, B); invocation = lane `lane` of key row s of kv head kvh, summing over
// the G query heads of its group and then the query rows t ≥ s, in that order.
// q, dout: (B,T,NH,D); k, v: (B,T,NKV,D); lse, delta (r8): (B,NH,T) → dk (w1), dv (w2): (B,T,NKV,D)
@compute @workgroup_size(WG)
fn backward_dkdv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let T = p.T;
  let b = wid.z;
  let kvh = wid.y;
  let G = p.NH / p.NKV;
  let r = lid / TPR;
  let lane = lid % TPR;
  let s0 = wid.x * BR;
  let s = s0 + r;
  let row = ((b * T + min(s, T - 1u)) * p.NKV + kvh) * D4;

  var kr: array<vec4<f32>, NC>;
  var vr: array<vec4<f32>, NC>;
  var dk: array<vec4<f32>, NC>;
  var dv: array<vec4<f32>, NC>;
  for (var i = 0u; i < NC; i++) {
    let c = lane + i * TPR;
    if (c < D4) {
      kr[i] = k[row + c];
      vr[i] = v[row + c];
    }
  }

  for (var g = 0u; g < G; g++) {
    let h = kvh * G + g;
    for (var t0 = s0; t0 < T; t0 += BC) {
      load_qg(b, h, t0, lid);
      workgroupBarrier();
      // Query rows t0 + j with s ≤ t0 + j < T.
      let j0 = select(0u, s - t0, s > t0);
      let j1 = min(BC, T - t0);
      for (var j = j0; j < j1; j++) {
        var sco = 0.0;
        var dp = 0.0;
        for (var i = 0u; i < NC; i++) {
          let c = lane + i * TPR;
          if (c < D4) {
            sco += dot(ta[j * D4 + c], kr[i]);
            dp += dot(tb[j * D4 + c], vr[i]);
          }
        }
        ps[(r * BC + j) * TPR + lane] = sco;
        pd[(r * BC + j) * TPR + lane] = dp;
      }
      workgroupBarrier();
      // One invocation per (key row, query row) pair turns its partials into p (into ps) and
      // p(dp − delta) (into pd), in place: each exp once, not once per lane. (Pairs past the
      // mask get values too; the loop below does not read them.)
      for (var e = lid; e < BR * BC; e += WG) {
        let j = e % BC;
        let pr = exp(sum_s(e / BC, j) - tc[j]);
        let ds = pr * (sum_d(e / BC, j) - td[j]);
        ps[e * TPR] = pr;
        pd[e * TPR] = ds;
      }
      workgroupBarrier();
      for (var j = j0; j < j1; j++) {
        let pr = ps[(r * BC + j) * TPR];
        let ds = pd[(r * BC + j) * TPR];
        for (var i = 0u; i < NC; i++) {
          let c = lane + i * TPR;
          if (c < D4) {
            dv[i] += pr * tb[j * D4 + c];
            dk[i] += ds * ta[j * D4 + c];  // ta already carries the scale
          }
        }
      }
      workgroupBarrier();
    }
  }
  if (s < T) {
    for (var i = 0u; i < NC; i++) {
      let c = lane + i * TPR;
      if (c < D4) {
        w1[row + c] = dk[i];
        let o = 4u * (row + c);
        w2[o] = dv[i].x;
        w2[o + 1u] = dv[i].y;
        w2[o + 2u] = dv[i].z;
        w2[o + 3u] = dv[i].w;
      }
    }
  }
}
