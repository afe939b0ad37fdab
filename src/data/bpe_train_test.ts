import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { hex } from "../util/hex.ts";
import { sha256 } from "../util/hash.ts";
import { bpeTokenizerJson, trainBpe } from "./bpe_train.ts";
import { DataError } from "./errors.ts";
import { parseHfTokenizer } from "./hf_tokenizer.ts";

const CORPUS = new URL("../../data/kjv_genesis_leviticus.txt", import.meta.url);
const SHIPPED = new URL("../../data/kjv_bpe_4096.json", import.meta.url);
/** sha256 of data/kjv_bpe_4096.json (also in data/README.md). */
const SHIPPED_SHA256 = "69bdd2f4e210e6d20f6fcf7ff14cab890769b453156f8b5b5db2d1fa3e84573b";

Deno.test("trainBpe retraining on the shipped corpus reproduces data/kjv_bpe_4096.json", async () => {
  const json = bpeTokenizerJson(trainBpe(await Deno.readTextFile(CORPUS), 4096));
  const shipped = await Deno.readTextFile(SHIPPED);
  assertEquals(json.length, shipped.length);
  assert(json === shipped, "retrained tokenizer.json differs from the shipped file");
  assertEquals(hex(await sha256(new TextEncoder().encode(json))), SHIPPED_SHA256);
});

Deno.test("trainBpe shipped tokenizer round-trips varied text and compresses the corpus", async () => {
  const tok = parseHfTokenizer(await Deno.readTextFile(SHIPPED), "kjv_bpe_4096.json");
  assertEquals(tok.vocabSize, 4096);
  const samples = [
    "Ge1:1 In the beginning God created the heaven and the earth.\n",
    "And Moses said unto the LORD, 12345 times; it's  spaced\tout\n\n",
    "naïve café — 日本語 🙂 ünïcödé, mixed CASE and punctuation?!…",
    "",
    " leading space and trailing ",
    "\u0000\u0001 control bytes \u007f",
  ];
  for (const s of samples) {
    const ids = tok.encode(s);
    for (const id of ids) assert(id < 4096, `id ${id} outside the vocabulary`);
    assertEquals(tok.decode(ids), s);
  }
  const corpus = await Deno.readTextFile(CORPUS);
  const ids = tok.encode(corpus);
  assertEquals(tok.decode(ids), corpus);
  // Bytes per token on the training corpus (3.95 when the file was made).
  assert(corpus.length / ids.length > 3.5, `only ${corpus.length / ids.length} bytes per token`);
});

Deno.test("trainBpe learns the most frequent pair first, smaller ids on ties", () => {
  const bpe = trainBpe("ab ab ab cd cd cd", 258);
  // Words "ab", " ab" ×2, " cd" ×3: "ab", " c" and "cd" occur 3 times; " c" has the smallest ids.
  assertEquals(bpe.merges[0], ["Ġ", "c"]); // Ġ: the byte-level character of a space
  assertEquals(bpe.merges[1], ["a", "b"]);
  assertEquals(bpe.tokens.length, 258);
  assertEquals(bpe.tokens[256], "Ġc");
});

Deno.test("trainBpe stops when no pair repeats and rejects a bad vocabulary size", () => {
  assertEquals(trainBpe("abc", 300).tokens.length, 256);
  assertThrows(() => trainBpe("abc", 100), DataError, "256");
});
