import { ByteTokenizer } from "../data/byte_tokenizer.ts";
import { parseHfTokenizer } from "../data/hf_tokenizer.ts";
import { assertEquals } from "../testing/assert.ts";
import { Rng } from "../util/rng.ts";
import { byteTokenizerJson } from "./byte_tokenizer_json.ts";

Deno.test("byteTokenizerJson encodes and decodes the same ids as ByteTokenizer", () => {
  const hf = parseHfTokenizer(byteTokenizerJson(), "tokenizer.json");
  const bytes = new ByteTokenizer();
  assertEquals(hf.vocabSize, 256);
  const rng = new Rng(7);
  const random = Array.from({ length: 200 }, () => String.fromCodePoint(rng.int(0xd7ff))).join("");
  const texts = [
    "In the beginning God created the heaven and the earth.",
    "  leading spaces, tabs\tand\nnewlines\r\n",
    "héllo wörld — ünïcödé ✓ 日本語 🙂👍🏽",
    "'s 't 're punctuation!?... 123 4567",
    "\u0000\u0001\u007f control bytes",
    random,
  ];
  for (const text of texts) {
    const ids = hf.encode(text);
    assertEquals([...ids], [...bytes.encode(text)], JSON.stringify(text.slice(0, 30)));
    assertEquals(hf.decode(ids), text);
  }
  const all = Array.from({ length: 256 }, (_, i) => i);
  assertEquals(hf.decode(all), bytes.decode(all));
});
