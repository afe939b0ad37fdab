// SparseLoCo compression of one parameter tensor on the GPU, the parts that are bit-exact
// against the reference (src/reference/sparseloco): the quantizer's statistics, codes and table
// are computed on the host in float64 by the reference itself (src/backend/compressor_gpu.ts).
//
//   error_feedback    e = β·e + (start − end)                      e, start, end: (N)
//   tile_topk         per tile, the k largest |e| (ties → lower index), tile-local indices
//                     ascending; their values; per tile the number of non-finite e
//                     e: (N) → idx: (M) u32, vals: (M), tile_bad: (T) u32
//   residual          e[flat(idx)] −= table[code]                  idx: (M), codes: (⌈M/16⌉), e: (N)
//
// N = numel, T = tiles, k = kept per full tile, M = selected entries (T·k, or less for a short
// 1-D last chunk). Tile t's selection starts at t·k.
// Workgroup scans are two-level rather than log-depth trees (3 barriers each: software
// rasterisers such as SwiftShader pay for every barrier; the serial steps cost little on a GPU):
// workgroup memory is zero-filled at every workgroup's start and its size drives SwiftShader's
// compile time (8 KiB took a pipeline from 0.25 s to over 1 s), so every entry keeps it small.
// Bindings: several entries reuse a binding number for differently typed views; `layout: "auto"`
// gives each entry only the variables it uses.

struct Params {
  n: u32,             // entries this dispatch covers (elements, tiles or selected entries)
  k: u32,             // kept per full tile = min(k, tileRows·tileCols)
  one_d: u32,         // 1 for a 1-D tensor (chunks of tile_cols; the last may be short)
  cols: u32,          // columns of the matrix view (the length for 1-D)
  tile_rows: u32,
  tile_cols: u32,
  grid_cols: u32,     // tiles across
  beta: f32,          // error-feedback decay
  zero: u32,          // always 0; see error_feedback
  table_at: u32,      // residual: this tensor's 4 entries start at table_in[table_at]
  pad: u32,
}

// Set by the launcher (src/kernels/sparseloco.ts), which sizes its grids with the same values.
override WG: u32;  // error_feedback, residual
// tile_topk runs TK invocations per tile: software rasterisers run each group of 4 invocations
// as a fiber and switch all of them at every barrier, so a smaller workgroup makes this
// barrier-heavy entry several times faster there; a GPU still has one workgroup per tile.
// TK (threads per tile) and TK_CH (chunk length of the two-level scans, TK = TK_CH²) come as
// a generated const header from the launcher: they size the workgroup and its arrays.

@group(0) @binding(0) var<uniform> p: Params;

// error_feedback, tile_topk, residual
@group(0) @binding(1) var<storage, read_write> e: array<f32>;              // (N)

@group(0) @binding(2) var<storage, read> theta_start: array<f32>;          // (N) error_feedback
@group(0) @binding(2) var<storage, read_write> sel_idx: array<u32>;        // (M) tile_topk
@group(0) @binding(2) var<storage, read> idx_in: array<u32>;               // (M) residual

@group(0) @binding(3) var<storage, read> theta_end: array<f32>;            // (N) error_feedback
@group(0) @binding(3) var<storage, read_write> sel_val: array<f32>;        // (M) tile_topk
@group(0) @binding(3) var<storage, read> codes_in: array<u32>;             // (⌈M/16⌉) residual

@group(0) @binding(4) var<storage, read_write> tile_bad: array<u32>;       // (T) tile_topk
@group(0) @binding(4) var<storage, read> table_in: array<f32>;             // (4·tensors) residual

// tile_topk: 1 KiB histogram + 0.6 KiB scans (≈ 1.7 KiB; limit 16 KiB).
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> scan_a: array<u32, TK>;
var<workgroup> scan_b: array<u32, TK>;
// Chunk totals, shared by two uses: the radix select's 16 digit chunks (256 bins = 16 × 16)
// and the scans' TK_CH chunk totals (TK_CH ≤ 16).
var<workgroup> chunk_a: array<u32, 16>;
var<workgroup> chunk_b: array<u32, 16>;
var<workgroup> pick_prefix: u32;
var<workgroup> pick_krem: u32;
var<workgroup> pick_done: u32;
var<workgroup> bad_count: atomic<u32>;

// 2-D grid so that N may exceed 65535 workgroups of 256.
fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// ---------------------------------------------------------------------------------------------
// e = β·e + (start − end)   e, start, end: (N)
// The product goes through an opaque integer op (p.zero is 0 at run time, but the compiler
// cannot know it) so that no backend can contract β·e + Δ into one fma: the reference rounds
// β·e to float32 before the add, and a fused result would differ in the last bit.
@compute @workgroup_size(WG)
fn error_feedback(@builtin(global_invocation_id) gid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg);
  if (i >= p.n) { return; }
  let delta = theta_start[i] - theta_end[i];
  let decayed = bitcast<f32>(bitcast<u32>(p.beta * e[i]) ^ p.zero);
  e[i] = decayed + delta;
}

// ---------------------------------------------------------------------------------------------
// Tile geometry (src/reference/sparseloco/tiles.ts).

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

// Exclusive prefix sums of two counts over tile_topk's TK threads, in two levels: TK_CH threads
// scan TK_CH entries each, then one thread scans the chunk totals. Call uniformly.
fn scan2_exclusive(lid: u32, a: u32, b: u32) -> vec2<u32> {
  scan_a[lid] = a;
  scan_b[lid] = b;
  workgroupBarrier();
  if (lid < TK_CH) {
    var sa = 0u;
    var sb = 0u;
    for (var j = TK_CH * lid; j < TK_CH * lid + TK_CH; j = j + 1u) {
      let xa = scan_a[j];
      let xb = scan_b[j];
      scan_a[j] = sa;
      scan_b[j] = sb;
      sa = sa + xa;
      sb = sb + xb;
    }
    chunk_a[lid] = sa;
    chunk_b[lid] = sb;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var sa = 0u;
    var sb = 0u;
    for (var c = 0u; c < TK_CH; c = c + 1u) {
      let xa = chunk_a[c];
      let xb = chunk_b[c];
      chunk_a[c] = sa;
      chunk_b[c] = sb;
      sa = sa + xa;
      sb = sb + xb;
    }
  }
  workgroupBarrier();
  return vec2<u32>(scan_a[lid] + chunk_a[lid / TK_CH], scan_b[lid] + chunk_b[lid / TK_CH]);
}

// ---------------------------------------------------------------------------------------------
// One workgroup per tile: e: (N) → sel_idx, sel_val: (M) at t·k .. t·k + min(k, size) − 1,
// tile_bad: (T) = #non-finite entries of the tile (the host refuses the tensor if any).
//
// Selection is a radix select on the keys (< 2³¹): the first digit is the exponent (bits
// 30..23), so one pass already spreads magnitudes, then the mantissa in 8, 8 and 7 bits. Each
// pass histograms the keys that share the digits fixed so far and picks the digit where the
// count from the top reaches the remaining budget `krem`. If that digit's keys are exactly the
// budget, they are all kept and the select stops early (thr = the digit's lowest key − 1,
// krem = 0); otherwise after the last pass `thr` is the k-th largest key and `krem` how many keys
// equal to it are kept. The compaction then keeps every key > thr and the first `krem` keys ==
// thr in index order, so ties go to the lower index; positions come from an exclusive scan, so
// indices are written in ascending order with no sort.
@compute @workgroup_size(TK)
fn tile_topk(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= p.n) { return; } // the whole workgroup leaves: uniform
  let size = tile_size(t);
  let kt = min(p.k, size);
  let origin = tile_origin(t);
  let base = t * p.k;

  // A tile kept whole needs no select: thr = 0 keeps every key (NaN's 0 included via krem).
  var thr = 0u;
  var krem = kt;
  if (kt < size) {
    var prefix = 0u; // the digits fixed so far, in place
    var done = 0u;
    for (var level = 0u; level < 4u; level = level + 1u) {
      let shift = select(23u - 8u * level, 0u, level == 3u);
      let width = select(8u, 7u, level == 3u);
      let fixed = ~((1u << (shift + width)) - 1u); // the bits above this digit
      let digit_mask = (1u << width) - 1u;
      for (var d = lid; d < 256u; d = d + TK) { atomicStore(&hist[d], 0u); }
      workgroupBarrier();
      for (var i = lid; i < size; i = i + TK) {
        let key = key_of(e[local_to_flat(origin, i)]);
        if ((key & fixed) == prefix) { atomicAdd(&hist[(key >> shift) & digit_mask], 1u); }
      }
      workgroupBarrier();
      // The digit where the count from the top reaches krem: 16 threads total 16 digits each
      // (thread c: digits 255 − 16c down to 240 − 16c), then one thread walks the totals and
      // the digits of the chunk that holds it (32 serial steps).
      if (lid < 16u) {
        var c = 0u;
        for (var d = 0u; d < 16u; d = d + 1u) { c = c + atomicLoad(&hist[255u - 16u * lid - d]); }
        chunk_a[lid] = c;
      }
      workgroupBarrier();
      if (lid == 0u) {
        // Bounded loops: they stop at the last chunk / digit even if the counts did not add up.
        var above = 0u;
        var c = 0u;
        for (; c < 15u; c = c + 1u) {
          if (above + chunk_a[c] >= krem) { break; }
          above = above + chunk_a[c];
        }
        var digit = 255u - 16u * c;
        var h = atomicLoad(&hist[digit]);
        for (var d = 0u; d < 15u; d = d + 1u) {
          if (above + h >= krem) { break; }
          above = above + h;
          digit = digit - 1u;
          h = atomicLoad(&hist[digit]);
        }
        pick_prefix = prefix | (digit << shift);
        pick_krem = krem - above;
        pick_done = select(0u, 1u, h == krem - above);
      }
      // workgroupUniformLoad is a barrier too, and makes `done` uniform so that the loop (which
      // has barriers) may leave early.
      done = workgroupUniformLoad(&pick_done);
      prefix = pick_prefix;
      krem = pick_krem;
      if (done != 0u) { break; }
    }
    thr = prefix;
    if (done != 0u) {
      // Every key ≥ prefix is kept (exactly krem of them at this digit, all above it): none
      // is a tie to break. prefix ≥ 1 here, as only a tile kept whole could start at key 0.
      thr = max(prefix, 1u) - 1u;
      krem = 0u;
    }
  }

  // Compaction: each thread owns a contiguous run of the tile, so one scan gives every
  // thread the counts before its run and it writes its kept entries in order.
  if (lid == 0u) { atomicStore(&bad_count, 0u); }
  let run = (size + TK - 1u) / TK;
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
  let before = scan2_exclusive(lid, gt, eq); // its barriers also order bad_count's reset
  if (bad > 0u) { atomicAdd(&bad_count, bad); }
  var g = before.x; // keys > thr before this run
  var q = before.y; // keys == thr before this run
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
    }
  }
  workgroupBarrier(); // every thread's atomicAdd is in
  if (lid == 0u) { tile_bad[t] = atomicLoad(&bad_count); }
}

// ---------------------------------------------------------------------------------------------
// e[flat(idx_j)] −= table[code_j] for the M = p.n selected entries: what was sent leaves e, the
// quantization error stays. codes: 16 per u32, code j in bits 2(j mod 16)..+1; the table (the
// reference quantizer's, computed on the host) at table_in[table_at..+3]. A correctly rounded
// float32 subtraction, as the reference's Float32Array store of e − table[c].
// idx: (M), codes: (⌈M/16⌉), e: (N)
@compute @workgroup_size(WG)
fn residual(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = flat_id(gid, nwg);
  if (j >= p.n) { return; }
  let t = j / p.k;
  let flat = local_to_flat(tile_origin(t), idx_in[j]);
  let c = (codes_in[j >> 4u] >> (2u * (j & 15u))) & 3u;
  e[flat] = e[flat] - table_in[p.table_at + c];
}
