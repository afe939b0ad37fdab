import { ByteTokenizer } from "../data/byte_tokenizer.ts";
import { assertEquals } from "../testing/assert.ts";
import { TextStream } from "./text_stream.ts";

Deno.test("TextStream holds back a character until all its bytes are there", () => {
  const s = new TextStream(new ByteTokenizer());
  const pieces = [..."hé🙂!"].length; // 4 characters, 1 + 2 + 4 + 1 bytes
  const out = [...new TextEncoder().encode("hé🙂!")].map((b) => s.push(b));
  assertEquals(out, ["h", "", "é", "", "", "", "🙂", "!"]);
  assertEquals(out.filter((p) => p !== "").length, pieces);
  assertEquals(s.flush(), "");
});

Deno.test("TextStream flushes an unfinished character as U+FFFD", () => {
  const s = new TextStream(new ByteTokenizer());
  assertEquals([s.push(0x61), s.push(0xf0), s.push(0x9f)], ["a", "", ""]);
  assertEquals(s.flush(), "\uFFFD");
});
