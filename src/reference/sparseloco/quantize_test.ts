import { assertEquals, assertThrows } from "../../testing/assert.ts";
import {
  DEFAULT_QUANTIZE_OPTIONS,
  dequantize2Bit,
  quantize2Bit,
  roundHalfEven,
} from "./quantize.ts";

const f = Math.fround;

Deno.test("quantize2Bit matches a hand-computed example", () => {
  // mean 4; deviations −3 −2 −1 0 6 → Σd² = 50, σ = √(50/4) = 3.5355…, scale = 1.5σ = 5.3033…
  // (v − 4)/scale + 2 = 1.434, 1.623, 1.811, 2, 3.131 → codes 1 2 2 2 3.
  const q = quantize2Bit(new Float32Array([1, 2, 3, 4, 10]));
  const scale = f(1.5 * Math.sqrt(12.5));
  assertEquals(q.shift, 4);
  assertEquals(q.scale, scale);
  assertEquals(q.codes, new Uint8Array([1, 2, 2, 2, 3]));
  // Bin 0 is empty: its centre shift − 2·scale.
  assertEquals(q.table, new Float32Array([4 - 2 * scale, 1, 3, 10]));
  assertEquals(dequantize2Bit(q.codes, q.table), new Float32Array([1, 3, 3, 3, 10]));
});

Deno.test("quantize2Bit clamps codes to 0..3 and fills empty bins with their centres", () => {
  // 19 zeros and a 100: mean 5, σ = √(9500/19) = √500, scale = 1.5√500 = 33.54…
  // zeros: −5/scale + 2 = 1.85 → 2; 100: 95/scale + 2 = 4.83 → clamped to 3.
  const v = new Float32Array(20);
  v[19] = 100;
  const q = quantize2Bit(v);
  const scale = f(1.5 * Math.sqrt(500));
  assertEquals(q.codes, new Uint8Array([...new Array(19).fill(2), 3]));
  assertEquals(q.table, new Float32Array([5 - 2 * scale, 5 - scale, 0, 100]));
});

Deno.test("quantize2Bit with σ = 0 codes everything 2 and decodes exactly", () => {
  const q = quantize2Bit(new Float32Array([0.7, 0.7, 0.7]));
  assertEquals(q.scale, 0);
  assertEquals(q.codes, new Uint8Array([2, 2, 2]));
  assertEquals(q.table, new Float32Array([0.7, 0.7, 0.7, 0.7]));
  const one = quantize2Bit(new Float32Array([-3]));
  assertEquals([one.codes[0], one.table[2]], [2, -3]);
  const none = quantize2Bit(new Float32Array(0));
  assertEquals([none.codes.length, ...none.table], [0, 0, 0, 0, 0]);
});

Deno.test("quantize2Bit range is a parameter", () => {
  assertEquals(DEFAULT_QUANTIZE_OPTIONS.rangeSigmas, 6);
  // With a range of 2σ, scale = σ/2 and 1, 10 leave the middle bins.
  const q = quantize2Bit(new Float32Array([1, 2, 3, 4, 10]), { rangeSigmas: 2 });
  assertEquals(q.scale, f(0.5 * Math.sqrt(12.5)));
  assertEquals(q.codes, new Uint8Array([0, 1, 1, 2, 3]));
});

Deno.test("quantize2Bit refuses non-finite values", () => {
  assertThrows(() => quantize2Bit(new Float32Array([1, NaN])), RangeError);
  assertThrows(() => quantize2Bit(new Float32Array([1, Infinity])), RangeError);
});

Deno.test("roundHalfEven rounds halves to the even neighbour", () => {
  assertEquals([0.5, 1.5, 2.5, 3.5, -0.5, 2.4999, 2.5001].map(roundHalfEven), [
    0,
    2,
    2,
    4,
    -0,
    2,
    3,
  ]);
});
