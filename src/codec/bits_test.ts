import { Rng } from "../util/rng.ts";
import { assertEquals, assertThrows } from "../testing/assert.ts";
import { BitReader, bitsFor, BitWriter, chooseRiceParameter, riceBits } from "./bits.ts";
import { CodecError } from "./errors.ts";

Deno.test("bitsFor is ceil(log2 n)", () => {
  assertEquals([1, 2, 3, 4, 5, 64, 65, 2400, 4096, 4097, 65536].map(bitsFor), [
    0,
    1,
    2,
    2,
    3,
    6,
    7,
    12,
    12,
    13,
    16,
  ]);
});

Deno.test("BitWriter and BitReader round-trip values of mixed widths", () => {
  const rng = new Rng(31);
  const items: [number, number][] = [];
  let bits = 0;
  for (let i = 0; i < 500; i++) {
    const n = rng.int(25);
    items.push([rng.u32() & ((1 << n) - 1) >>> 0, n]);
    bits += n;
  }
  const w = new BitWriter(Math.ceil(bits / 8));
  for (const [v, n] of items) w.write(v, n);
  const r = new BitReader(w.bytes, 0, w.bytes.length, {});
  for (const [v, n] of items) assertEquals(r.read(n), v);
  r.finish();
});

Deno.test("BitWriter writes least significant bits first", () => {
  const w = new BitWriter(2);
  w.write(0b101, 3);
  w.write(0xff, 8);
  assertEquals(w.bytes, new Uint8Array([0b11111101, 0b00000111]));
});

Deno.test("Rice codes round-trip and cost what riceBits says", () => {
  const rng = new Rng(32);
  const gaps = Array.from({ length: 300 }, () => rng.int(rng.int(2) ? 200 : 5000));
  for (const b of [0, 3, 5, 12]) {
    const total = gaps.reduce((s, g) => s + riceBits(g, b), 0);
    const w = new BitWriter(Math.ceil(total / 8));
    for (const g of gaps) w.writeRice(g, b);
    assertEquals(w.bitLength, total);
    const r = new BitReader(w.bytes, 0, w.bytes.length, {});
    for (const g of gaps) assertEquals(r.readRice(b, 65535), g);
    r.finish();
  }
});

Deno.test("chooseRiceParameter takes the smallest parameter with the fewest bits", () => {
  assertEquals(chooseRiceParameter([0, 0, 0], 12), [0, 3]);
  const [b] = chooseRiceParameter(Array.from({ length: 64 }, (_, i) => (i * 37) % 120), 12);
  assertEquals(b, 5);
  // Gaps 1 and 2: b = 0 costs 2+3 = 5, b = 1 costs 2+3 = 5: the smaller wins.
  assertEquals(chooseRiceParameter([1, 2], 12), [0, 5]);
});

Deno.test("BitReader stops at its end and at overlong unary runs", () => {
  const ones = new Uint8Array([0xff, 0xff, 0xff]);
  assertThrows(() => new BitReader(ones, 0, 3, {}).readRice(0, 1000), CodecError, "truncated");
  assertThrows(() => new BitReader(ones, 0, 3, {}).readRice(2, 10), CodecError, "out of range");
  assertThrows(() => new BitReader(ones, 0, 1, {}).read(9), CodecError, "truncated");
  const r = new BitReader(new Uint8Array([0x01, 0x00]), 0, 2, {});
  r.read(1);
  assertThrows(() => r.finish(), CodecError, "unused bytes");
  const p = new BitReader(new Uint8Array([0x03]), 0, 1, {});
  p.read(1);
  assertThrows(() => p.finish(), CodecError, "padding");
});
