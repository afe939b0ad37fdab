import { assertEquals, assertThrows } from "../testing/assert.ts";
import { fromHex, hex } from "./hex.ts";

Deno.test("hex writes two lower-case digits a byte", () => {
  assertEquals(hex(new Uint8Array([0, 1, 0x0f, 0xab, 0xff])), "00010fabff");
  assertEquals(hex(new Uint8Array(0)), "");
});

Deno.test("fromHex reads either case and inverts hex", () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  assertEquals(fromHex(hex(bytes)), bytes);
  assertEquals(fromHex("00FFaB"), new Uint8Array([0, 0xff, 0xab]));
  assertEquals(fromHex(""), new Uint8Array(0));
});

Deno.test("fromHex rejects odd lengths and non-hex digits", () => {
  assertThrows(() => fromHex("abc"), RangeError, "not hex bytes");
  assertThrows(() => fromHex("0g"), RangeError, "not hex bytes");
  assertThrows(() => fromHex(" 00"), RangeError, "not hex bytes");
});
