// SparseLoCo compression of one parameter tensor (src/optim/sparseloco/compress.ts on the GPU).
//
//   error_feedback    e = β·e + (start − end)                      e, start, end: (N)
//   tile_topk         per tile, the k largest |e| (ties → lower index), tile-local indices
//                     ascending; their values; per-tile [Σ values, #non-finite e]
//                     e: (N) → idx: (M) u32, vals: (M), tile_part: (2T)
//   mean_finish       sum, shift = mean, #non-finite                 tile_part: (2T) → stats
//   centered_partial  Σ (v − mean)² per workgroup                     vals: (M) → part: (G)
//   sigma_finish      σ (sample, n − 1), scale = (rangeSigmas/4)·σ, ok flag   part: (G) → stats
//   quantize_codes    code = clamp(round((v − shift)/scale + 2), 0, 3), 4 codes per u32 (byte
//                     each, little-endian = the reference's Uint8Array), per-workgroup per-code
//                     sums and counts                               vals: (M) → codes: (⌈M/4⌉), part: (8G)
//   table_finish      table[c] = mean of the values with code c (empty: shift + (c−2)·scale)
//                                                                   part: (8G) → stats
//   residual          e[flat(idx)] −= table[code]                  idx, codes: (M), e: (N)
//
// N = numel, T = tiles, k = kept per full tile, M = selected entries (T·k, or less for a short
// 1-D last chunk). Tile t's selection starts at t·k.
// Every reduction is in a fixed order (per-thread chains, then a pairwise tree, then one
// workgroup over the partials in order), so equal inputs give bit-identical outputs; sums are
// float32 where the reference sums in float64 (see src/kernels/sparseloco.ts for tolerances).
// Bindings: several entries reuse a binding number for differently typed views; `layout: "auto"`
// gives each entry only the variables it uses.

struct Params {
  n: u32,             // entries this dispatch covers (elements, tiles, values or partials)
  m: u32,             // M, selected entries of the tensor
  k: u32,             // kept per full tile = min(k, tileRows·tileCols)
  one_d: u32,         // 1 for a 1-D tensor (chunks of tile_cols; the last may be short)
  cols: u32,          // columns of the matrix view (the length for 1-D)
  tile_rows: u32,
  tile_cols: u32,
  grid_cols: u32,     // tiles across
  beta: f32,          // error-feedback decay
  range_quarter: f32, // rangeSigmas / 4 (1.5 for the reference's 6σ)
  zero: u32,          // always 0; see error_feedback
  pad: u32,
}

// stats: (16) f32, written by the *_finish entries (same layout as STAT in sparseloco.ts).
const SUM = 0u;        // Σ selected values
const SHIFT = 1u;      // mean of the selected values (the quantizer's shift)
const SS = 2u;         // Σ (v − mean)²
const SIGMA = 3u;      // sample standard deviation
const SCALE = 4u;      // range_quarter·σ, or 0 when not > 0
const NONFINITE = 5u;  // number of non-finite e entries after error feedback
const OK = 6u;         // 1 when everything above is finite; residual does nothing otherwise
const TABLE = 8u;      // 4 entries: decode(c) = table[c]
const COUNTS = 12u;    // 4 entries: values per code

const WG = 256u;

@group(0) @binding(0) var<uniform> p: Params;

// error_feedback, tile_topk, residual
@group(0) @binding(1) var<storage, read_write> e: array<f32>;              // (N)
// mean_finish, sigma_finish, table_finish
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;          // (16)
// centered_partial, quantize_codes
@group(0) @binding(1) var<storage, read_write> part_out: array<f32>;       // (G) or (8G)

@group(0) @binding(2) var<storage, read> theta_start: array<f32>;          // (N) error_feedback
@group(0) @binding(2) var<storage, read_write> sel_idx: array<u32>;        // (M) tile_topk
@group(0) @binding(2) var<storage, read> part_in: array<f32>;              // finishes
@group(0) @binding(2) var<storage, read> vals_in: array<f32>;              // (M) centered, codes
@group(0) @binding(2) var<storage, read> idx_in: array<u32>;               // (M) residual

@group(0) @binding(3) var<storage, read> theta_end: array<f32>;            // (N) error_feedback
@group(0) @binding(3) var<storage, read_write> sel_val: array<f32>;        // (M) tile_topk
@group(0) @binding(3) var<storage, read> stats_in: array<f32>;             // (16) centered, codes
@group(0) @binding(3) var<storage, read> codes_in: array<u32>;             // (⌈M/4⌉) residual

@group(0) @binding(4) var<storage, read_write> tile_part: array<f32>;      // (2T) tile_topk
@group(0) @binding(4) var<storage, read_write> codes_out: array<u32>;      // (⌈M/4⌉) codes
@group(0) @binding(4) var<storage, read> stats_r: array<f32>;              // (16) residual

var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> scan_buf: array<vec4<u32>, 256>;
var<workgroup> red_a: array<vec4<f32>, 256>;
var<workgroup> red_b: array<vec4<f32>, 256>;
var<workgroup> pick: vec2<u32>;

// 2-D grid so that N may exceed 65535 workgroups of 256.
fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// ---------------------------------------------------------------------------------------------
// e = β·e + (start − end)   e, start, end: (N)
// The product goes through an opaque integer op (p.zero is 0 at run time, but the compiler
// cannot know it) so that no backend can contract β·e + Δ into one fma: the reference rounds
// β·e to float32 before the add, and a fused result would differ in the last bit.
@compute @workgroup_size(256)
fn error_feedback(@builtin(global_invocation_id) gid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg);
  if (i >= p.n) { return; }
  let delta = theta_start[i] - theta_end[i];
  let decayed = bitcast<f32>(bitcast<u32>(p.beta * e[i]) ^ p.zero);
  e[i] = decayed + delta;
}

// ---------------------------------------------------------------------------------------------
// Tile geometry (src/optim/sparseloco/tiles.ts).

fn tile_size(t: u32) -> u32 {
  if (p.one_d != 0u) { return min(p.tile_cols, p.cols - t * p.tile_cols); }
  return p.tile_rows * p.tile_cols;
}

// Flat (row-major) index of tile t's first entry.
fn tile_origin(t: u32) -> u32 {
  if (p.one_d != 0u) { return t * p.tile_cols; }
  let gr = t / p.grid_cols;
  let gc = t - gr * p.grid_cols;
  return gr * p.tile_rows * p.cols + gc * p.tile_cols;
}

// Flat index of tile-local index i (row-major inside the tile) given the tile's origin.
fn local_to_flat(origin: u32, i: u32) -> u32 {
  if (p.one_d != 0u) { return origin + i; }
  let r = i / p.tile_cols;
  return origin + r * p.cols + (i - r * p.tile_cols);
}

// Sort key of a value: the bit pattern of |x| is monotonic in |x| for non-negative floats, so
// comparing keys as u32 compares magnitudes exactly (−0 and +0 tie, as Math.abs makes them).
// NaN ranks below every number (key 0, the others are shifted up by one), as in selectTopK.
// Integer operations only: no backend can flush or reorder them.
fn key_of(x: f32) -> u32 {
  let b = bitcast<u32>(x) & 0x7fffffffu;
  if (b > 0x7f800000u) { return 0u; }
  return b + 1u;
}

fn non_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u; }

// Inclusive prefix sum over the workgroup's 256 vectors (Hillis–Steele). Call uniformly.
fn scan_inclusive(lid: u32, v: vec4<u32>) -> vec4<u32> {
  scan_buf[lid] = v;
  workgroupBarrier();
  var acc = v;
  for (var off = 1u; off < WG; off = off << 1u) {
    var add = vec4<u32>(0u);
    if (lid >= off) { add = scan_buf[lid - off]; }
    workgroupBarrier();
    acc = acc + add;
    scan_buf[lid] = acc;
    workgroupBarrier();
  }
  return acc;
}

// Pairwise tree over the 256 per-thread vectors: fixed order. Call uniformly; thread 0 reads
// red_a[0] / red_b[0] afterwards.
fn tree_sum(lid: u32, a: vec4<f32>, b: vec4<f32>) {
  red_a[lid] = a;
  red_b[lid] = b;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      red_a[lid] = red_a[lid] + red_a[lid + s];
      red_b[lid] = red_b[lid] + red_b[lid + s];
    }
    workgroupBarrier();
  }
}

// ---------------------------------------------------------------------------------------------
// One workgroup per tile: e: (N) → sel_idx, sel_val: (M) at t·k .. t·k + min(k, size) − 1,
// tile_part: (2T) = [Σ selected values (fixed order), #non-finite entries of the tile].
//
// Selection is a radix select on the 32-bit keys, 8 bits per pass from the top: each pass
// histograms the keys that share the prefix found so far and picks the digit where the count
// from the top reaches the remaining budget. After 4 passes `thr` is the k-th largest key and
// `krem` how many entries equal to it are kept. The compaction then keeps every key > thr and
// the first `krem` keys == thr in index order, so ties go to the lower index; positions come
// from an exclusive scan, so indices are written in ascending order with no sort.
// Workgroup memory: 1 KiB histogram + 4 KiB scan + 8 KiB reduction (< 16 KiB).
@compute @workgroup_size(256)
fn tile_topk(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= p.n) { return; } // the whole workgroup leaves: uniform
  let size = tile_size(t);
  let kt = min(p.k, size);
  let origin = tile_origin(t);
  let base = t * p.k;

  var prefix = 0u;
  var krem = kt;
  // A tile kept whole needs no select: thr = 0 keeps every key (NaN's 0 included via krem).
  let passes = select(4u, 0u, kt >= size);
  for (var level = 0u; level < passes; level = level + 1u) {
    let shift = 24u - 8u * level;
    let mask = ~(0xffffffffu >> (8u * level)); // the digits already fixed
    atomicStore(&hist[lid], 0u);
    workgroupBarrier();
    for (var i = lid; i < size; i = i + WG) {
      let key = key_of(e[local_to_flat(origin, i)]);
      if ((key & mask) == prefix) { atomicAdd(&hist[(key >> shift) & 0xffu], 1u); }
    }
    workgroupBarrier();
    // Thread lid looks at digit 255 − lid so that the inclusive scan counts from the top.
    let digit = 255u - lid;
    let h = atomicLoad(&hist[digit]);
    let incl = scan_inclusive(lid, vec4<u32>(h, 0u, 0u, 0u)).x;
    let above = incl - h;
    if (above < krem && krem <= incl) { pick = vec2<u32>(prefix | (digit << shift), krem - above); }
    workgroupBarrier();
    prefix = pick.x;
    krem = pick.y;
  }
  let thr = prefix;

  // Compaction: each thread owns a contiguous run of the tile, so one scan gives every
  // thread the counts before its run and it writes its kept entries in order.
  let run = (size + WG - 1u) / WG;
  let lo = min(lid * run, size);
  let hi = min(lo + run, size);
  var gt = 0u;
  var eq = 0u;
  var bad = 0u;
  for (var i = lo; i < hi; i = i + 1u) {
    let x = e[local_to_flat(origin, i)];
    let key = key_of(x);
    gt = gt + select(0u, 1u, key > thr);
    eq = eq + select(0u, 1u, key == thr);
    bad = bad + select(0u, 1u, non_finite(x));
  }
  let incl = scan_inclusive(lid, vec4<u32>(gt, eq, bad, 0u));
  var g = incl.x - gt; // keys > thr before this run
  var q = incl.y - eq; // keys == thr before this run
  let bad_total = scan_buf[WG - 1u].z;
  var s = 0.0;
  for (var i = lo; i < hi; i = i + 1u) {
    let x = e[local_to_flat(origin, i)];
    let key = key_of(x);
    // Kept: every key > thr, and the first krem keys == thr. Position = kept entries before.
    var keep = false;
    var pos = 0u;
    if (key > thr) {
      keep = true;
      pos = g + min(q, krem);
      g = g + 1u;
    } else if (key == thr) {
      keep = q < krem;
      pos = g + q;
      q = q + 1u;
    }
    if (keep) {
      sel_idx[base + pos] = i;
      sel_val[base + pos] = x;
      s = s + x;
    }
  }
  tree_sum(lid, vec4<f32>(s, 0.0, 0.0, 0.0), vec4<f32>(0.0));
  if (lid == 0u) {
    tile_part[2u * t] = red_a[0].x;
    tile_part[2u * t + 1u] = f32(bad_total);
  }
}

// ---------------------------------------------------------------------------------------------
// tile_part: (2T) with T = p.n → stats[SUM, SHIFT, NONFINITE]. Exactly one workgroup.
@compute @workgroup_size(256)
fn mean_finish(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  var b = 0.0;
  for (var i = lid; i < p.n; i = i + WG) {
    s = s + part_in[2u * i];
    b = b + part_in[2u * i + 1u];
  }
  tree_sum(lid, vec4<f32>(s, b, 0.0, 0.0), vec4<f32>(0.0));
  if (lid == 0u) {
    let total = red_a[0];
    stats[SUM] = total.x;
    stats[SHIFT] = total.x / f32(p.m);
    stats[NONFINITE] = total.y;
  }
}

// vals: (M) with M = p.n → part_out: (G) = Σ (v − mean)² over what workgroup w visits.
// Grid-stride loop over G = num_workgroups (1-D): each thread's chain is fixed by G.
@compute @workgroup_size(256)
fn centered_partial(@builtin(local_invocation_index) lid: u32,
                    @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let mean = stats_in[SHIFT];
  var s = 0.0;
  for (var i = wid.x * WG + lid; i < p.n; i = i + nwg.x * WG) {
    let d = vals_in[i] - mean;
    s = s + d * d;
  }
  tree_sum(lid, vec4<f32>(s, 0.0, 0.0, 0.0), vec4<f32>(0.0));
  if (lid == 0u) { part_out[wid.x] = red_a[0].x; }
}

fn finite(x: f32) -> bool { return !non_finite(x); }

// part_in: (G) with G = p.n → stats[SS, SIGMA, SCALE, OK]. Exactly one workgroup.
@compute @workgroup_size(256)
fn sigma_finish(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < p.n; i = i + WG) { s = s + part_in[i]; }
  tree_sum(lid, vec4<f32>(s, 0.0, 0.0, 0.0), vec4<f32>(0.0));
  if (lid == 0u) {
    let ss = red_a[0].x;
    var sigma = 0.0;
    if (p.m > 1u) { sigma = sqrt(ss / f32(p.m - 1u)); }
    var scale = p.range_quarter * sigma;
    let ok = stats[NONFINITE] == 0.0 && finite(stats[SUM]) && finite(stats[SHIFT]) &&
      finite(ss) && finite(scale);
    if (!(scale > 0.0)) { scale = 0.0; }
    stats[SS] = ss;
    stats[SIGMA] = sigma;
    stats[SCALE] = scale;
    stats[OK] = select(0.0, 1.0, ok);
  }
}

// vals: (M) → codes_out: (⌈M/4⌉), 4 codes per u32 (code of value 4q + j in byte j), and
// part_out: (8G) = [Σ v per code (4), count per code (4)] over what workgroup w visits.
// Grid-stride over quads, p.n = ⌈M/4⌉. The code follows quantize2Bit step by step in float32:
// (v − shift), / scale, + 2, round half to even (WGSL round), clamp to 0..3; scale 0 → code 2.
@compute @workgroup_size(256)
fn quantize_codes(@builtin(local_invocation_index) lid: u32,
                  @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let shift = stats_in[SHIFT];
  let scale = stats_in[SCALE];
  var sums = vec4<f32>(0.0);
  var counts = vec4<f32>(0.0);
  for (var q = wid.x * WG + lid; q < p.n; q = q + nwg.x * WG) {
    var packed = 0u;
    for (var j = 0u; j < 4u; j = j + 1u) {
      let i = 4u * q + j;
      if (i < p.m) {
        let v = vals_in[i];
        var c = 2u;
        if (scale > 0.0) {
          let x = (v - shift) / scale + 2.0;
          c = u32(clamp(round(x), 0.0, 3.0));
        }
        packed = packed | (c << (8u * j));
        let hit = vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(c);
        sums = sums + select(vec4<f32>(0.0), vec4<f32>(v), hit);
        counts = counts + select(vec4<f32>(0.0), vec4<f32>(1.0), hit);
      }
    }
    codes_out[q] = packed;
  }
  tree_sum(lid, sums, counts);
  if (lid == 0u) {
    let o = 8u * wid.x;
    let a = red_a[0];
    let b = red_b[0];
    part_out[o] = a.x;
    part_out[o + 1u] = a.y;
    part_out[o + 2u] = a.z;
    part_out[o + 3u] = a.w;
    part_out[o + 4u] = b.x;
    part_out[o + 5u] = b.y;
    part_out[o + 6u] = b.z;
    part_out[o + 7u] = b.w;
  }
}

// part_in: (8G) with G = p.n → stats[TABLE..TABLE+3, COUNTS..COUNTS+3]. Exactly one workgroup.
@compute @workgroup_size(256)
fn table_finish(@builtin(local_invocation_index) lid: u32) {
  var sums = vec4<f32>(0.0);
  var counts = vec4<f32>(0.0);
  for (var i = lid; i < p.n; i = i + WG) {
    let o = 8u * i;
    sums = sums + vec4<f32>(part_in[o], part_in[o + 1u], part_in[o + 2u], part_in[o + 3u]);
    counts = counts + vec4<f32>(part_in[o + 4u], part_in[o + 5u], part_in[o + 6u], part_in[o + 7u]);
  }
  tree_sum(lid, sums, counts);
  if (lid == 0u) {
    let s = red_a[0];
    let n = red_b[0];
    let shift = stats[SHIFT];
    let scale = stats[SCALE];
    for (var c = 0u; c < 4u; c = c + 1u) {
      var v = shift + (f32(c) - 2.0) * scale; // empty bin: its centre
      if (n[c] > 0.0) { v = s[c] / n[c]; }
      stats[TABLE + c] = v;
      stats[COUNTS + c] = n[c];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// e[flat(idx_j)] −= table[code_j] for the M = p.n selected entries: what was sent leaves e, the
// quantization error stays. Does nothing unless stats[OK] (the host then throws, and e holds
// exactly the error-feedback result, as in the reference).  idx: (M), codes: (⌈M/4⌉), e: (N)
@compute @workgroup_size(256)
fn residual(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = flat_id(gid, nwg);
  if (j >= p.n || stats_r[OK] != 1.0) { return; }
  let t = j / p.k;
  let flat = local_to_flat(tile_origin(t), idx_in[j]);
  let c = (codes_in[j >> 2u] >> (8u * (j & 3u))) & 3u;
  e[flat] = e[flat] - stats_r[TABLE + c];
}
