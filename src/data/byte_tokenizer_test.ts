import { assertEquals } from "../testing/assert.ts";
import { ByteTokenizer } from "./byte_tokenizer.ts";

Deno.test("ByteTokenizer encodes UTF-8 bytes", () => {
  const t = new ByteTokenizer();
  assertEquals(t.encode("hé€"), Uint32Array.of(104, 0xc3, 0xa9, 0xe2, 0x82, 0xac));
  assertEquals(t.encode(""), new Uint32Array(0));
  assertEquals(t.vocabSize, 256);
  assertEquals(t.name, "bytes");
});

Deno.test("ByteTokenizer round-trips text", () => {
  const t = new ByteTokenizer();
  for (const s of ["", "plain ascii\n", "naïve café 日本語 👍🏽", "\u0000\u007f\ufeffbom"]) {
    assertEquals(t.decode(t.encode(s)), s);
  }
});

Deno.test("ByteTokenizer decodes bad bytes and unknown ids as U+FFFD", () => {
  const t = new ByteTokenizer();
  assertEquals(t.decode([104, 0xc3]), "h\uFFFD");
  assertEquals(t.decode([104, 300, 105]), "h\uFFFDi");
  // A split multi-byte character is not glued back together across an unknown id.
  assertEquals(t.decode([0xc3, 256, 0xa9]), "\uFFFD\uFFFD\uFFFD");
});
