import { assertEquals, assertRejects } from "../testing/assert.ts";
import { writeBinShard } from "./bin_shard.ts";
import { ByteTokenizer } from "./byte_tokenizer.ts";
import { DataError } from "./errors.ts";
import { loadCorpus, readCorpusFiles } from "./load_corpus.ts";

const tokenizer = new ByteTokenizer();

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "webloco_data_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadCorpus with no paths loads the embedded default corpus", async () => {
  const { tokens, sources } = await loadCorpus([], tokenizer);
  assertEquals(sources, ["kjv_genesis_leviticus.txt"]);
  assertEquals(tokens.length, 522_204);
});

Deno.test("loadCorpus reads files and directories in a fixed order", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/shards/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/one.txt`, "ab");
    await Deno.writeTextFile(`${dir}/shards/b.jsonl`, '{"text":"c"}\n');
    await Deno.writeFile(`${dir}/shards/a.bin`, writeBinShard([1, 2]));
    await Deno.writeTextFile(`${dir}/shards/sub/c.txt`, "d");
    await Deno.writeTextFile(`${dir}/shards/README.md`, "skipped");
    await Deno.writeTextFile(`${dir}/shards/.hidden.txt`, "skipped");
    const corpus = await loadCorpus([`${dir}/one.txt`, `${dir}/shards/`], tokenizer);
    assertEquals(corpus.sources, [
      `${dir}/one.txt`,
      `${dir}/shards/a.bin`,
      `${dir}/shards/b.jsonl`,
      `${dir}/shards/sub/c.txt`,
    ]);
    assertEquals(corpus.tokens, Uint32Array.of(97, 98, 1, 2, 99, 100));
  });
});

Deno.test("loadCorpus names the path of a missing, unknown, empty or bad file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/notes.md`, "x");
    await Deno.writeTextFile(`${dir}/empty.txt`, "");
    await Deno.writeTextFile(`${dir}/bad.jsonl`, '{"text":"a"}\n{"text":1}\n');
    await Deno.mkdir(`${dir}/nodata`);
    const cases: [string, string][] = [
      [`${dir}/missing.txt`, `${dir}/missing.txt: no such file or directory`],
      [
        `${dir}/notes.md`,
        `${dir}/notes.md: unknown corpus file extension (expected .txt, .jsonl or .bin)`,
      ],
      [`${dir}/empty.txt`, `${dir}/empty.txt: corpus is empty (0 tokens)`],
      [`${dir}/bad.jsonl`, `${dir}/bad.jsonl:2: expected an object with a string "text" field`],
      [`${dir}/nodata`, `${dir}/nodata: no .txt, .jsonl or .bin files in this directory`],
    ];
    for (const [path, message] of cases) {
      assertEquals(
        (await assertRejects(() => loadCorpus([path], tokenizer), DataError)).message,
        message,
      );
    }
  });
});

Deno.test("readCorpusFiles returns raw bytes without tokenizing", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/x.bin`, Uint8Array.of(1, 2, 3));
    const [file] = await readCorpusFiles([`${dir}/x.bin`]);
    assertEquals(file.bytes, Uint8Array.of(1, 2, 3));
  });
});

Deno.test("loadCorpus with a format reads files without an extension, and a chosen JSONL field", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/dump`);
    await Deno.writeTextFile(`${dir}/dump/part-0`, '{"content":"ab","text":"x"}\n');
    await Deno.writeTextFile(`${dir}/dump/part-1.json`, '{"content":"c"}\n');
    await Deno.writeTextFile(`${dir}/dump/.hidden`, "skipped");
    await Deno.writeFile(`${dir}/tokens`, writeBinShard([7, 8]));
    const jsonl = await loadCorpus([`${dir}/dump`], tokenizer, {
      format: "jsonl",
      jsonlField: "content",
    });
    assertEquals(jsonl.sources, [`${dir}/dump/part-0`, `${dir}/dump/part-1.json`]);
    assertEquals(jsonl.tokens, Uint32Array.of(97, 98, 99));
    const bin = await loadCorpus([`${dir}/tokens`], tokenizer, { format: "bin" });
    assertEquals(bin.tokens, Uint32Array.of(7, 8));
    const text = await loadCorpus([`${dir}/dump/part-0`], tokenizer, { format: "text" });
    assertEquals(text.tokens.length, '{"content":"ab","text":"x"}\n'.length);
    const missing = await assertRejects(
      () => loadCorpus([`${dir}/dump/part-1.json`], tokenizer, { format: "jsonl" }),
      DataError,
    );
    assertEquals(
      missing.message,
      `${dir}/dump/part-1.json:1: expected an object with a string "text" field`,
    );
    const unknown = await assertRejects(() => loadCorpus([`${dir}/tokens`], tokenizer), DataError);
    assertEquals(
      unknown.message,
      `${dir}/tokens: unknown corpus file extension (expected .txt, .jsonl or .bin)`,
    );
  });
});
