// f16 storage helpers shared by every shader that reads or writes packed f16 activations (the
// loader concatenates this file with them, src/kernels/shaders.ts): f16 pairs packed in u32
// words, element 2w in the low half of word w (the bytes of a little-endian f16 array), through
// WGSL core's pack2x16float / unpack2x16float, so no adapter needs `shader-f16`.
// Writing saturates: values past ±65504 (the largest finite f16) become ±65504, so the result is
// defined everywhere (pack2x16float leaves out-of-range values indeterminate). Rounding is the
// implementation's f32 → f16 conversion (WGSL allows either neighbour; SwiftShader and lavapipe
// round to nearest even, checked against src/reference/f16.ts in test/kernels/*_f16 cases).

const F16_MAX: f32 = 65504.0;

// Two f32 values as one word of f16 pairs (lo in the low half).
fn pack_f16(lo: f32, hi: f32) -> u32 {
  return pack2x16float(clamp(vec2<f32>(lo, hi), vec2<f32>(-F16_MAX), vec2<f32>(F16_MAX)));
}

// x rounded to f16 (saturating), as f32: what pack_f16 then unpacking gives.
fn round_f16(x: f32) -> f32 {
  return unpack2x16float(pack_f16(x, 0.0)).x;
}

// Element i of a packed f16 array as f32, from its word (select, not v[i & 1]: SwiftShader pays
// for a dynamic vector index).
fn half_at(word: u32, i: u32) -> f32 {
  let v = unpack2x16float(word);
  return select(v.x, v.y, (i & 1u) == 1u);
}
