import { assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import { writeBinShard } from "./bin_shard.ts";
import { ByteTokenizer } from "./byte_tokenizer.ts";
import { corpusFormat, fetchDefaultCorpus, tokenizeCorpus } from "./corpus.ts";
import { DataError } from "./errors.ts";

const tokenizer = new ByteTokenizer();
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("corpusFormat picks the format from the extension", () => {
  assertEquals(corpusFormat("a/b.txt"), "text");
  assertEquals(corpusFormat("B.JSONL"), "jsonl");
  assertEquals(corpusFormat("x.y/shard_000.bin"), "bin");
  for (const name of ["notes.md", "txt", "dir.txt/file", ".txt"]) {
    assertEquals(
      assertThrows(() => corpusFormat(name), DataError).message,
      `${name}: unknown corpus file extension (expected .txt, .jsonl or .bin)`,
    );
  }
});

Deno.test("tokenizeCorpus concatenates text, JSONL and bin files in order", () => {
  const corpus = tokenizeCorpus([
    { name: "a.txt", bytes: bytes("ab") },
    { name: "b.jsonl", bytes: bytes('{"text":"c"}\n{"text":"d"}\n') },
    { name: "c.bin", bytes: writeBinShard([1, 2]) },
  ], tokenizer);
  assertEquals(corpus.tokens, Uint32Array.of(97, 98, 99, 10, 10, 100, 1, 2));
  assertEquals(corpus.sources, ["a.txt", "b.jsonl", "c.bin"]);
});

Deno.test("tokenizeCorpus rejects empty corpora, bad files and foreign shards", () => {
  assertEquals(
    assertThrows(
      () => tokenizeCorpus([{ name: "e.txt", bytes: new Uint8Array(0) }], tokenizer),
      DataError,
    ).message,
    "e.txt: corpus is empty (0 tokens)",
  );
  assertEquals(
    assertThrows(() => tokenizeCorpus([], tokenizer), DataError).message,
    "(no files): corpus is empty (0 tokens)",
  );
  assertThrows(
    () => tokenizeCorpus([{ name: "d.csv", bytes: bytes("a,b") }], tokenizer),
    DataError,
    /^d\.csv: unknown corpus file extension/,
  );
  assertThrows(
    () => tokenizeCorpus([{ name: "gpt2.bin", bytes: writeBinShard([50256]) }], tokenizer),
    DataError,
    /^gpt2\.bin: token 50256 at index 0 is not below the vocab size 256/,
  );
});

Deno.test("fetchDefaultCorpus loads the shipped text", async () => {
  const { tokens, sources } = await fetchDefaultCorpus(tokenizer);
  assertEquals(sources, ["kjv_genesis_leviticus.txt"]);
  assertEquals(tokens.length, 522_204);
  assertEquals(
    tokenizer.decode(tokens.subarray(0, 60)),
    "Ge1:1 In the beginning God created the heaven and the earth.",
  );
});

Deno.test("fetchDefaultCorpus wraps fetch failures in DataError", async () => {
  const real = globalThis.fetch;
  globalThis.fetch = () => Promise.resolve(new Response("gone", { status: 404 }));
  try {
    await assertRejects(
      () => fetchDefaultCorpus(tokenizer),
      DataError,
      /cannot fetch the default corpus \(HTTP 404\)$/,
    );
  } finally {
    globalThis.fetch = real;
  }
});
