import { assertEquals, assertThrows } from "../testing/assert.ts";
import { ByteTokenizer } from "./byte_tokenizer.ts";
import { DataError } from "./errors.ts";
import { parseJsonl, readTextShard } from "./text_shard.ts";

const tokenizer = new ByteTokenizer();
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("readTextShard tokenizes plain text from bytes or strings", () => {
  const want = Uint32Array.of(104, 105, 10);
  assertEquals(readTextShard(bytes("hi\n"), { tokenizer, source: "a.txt" }), want);
  assertEquals(readTextShard("hi\n", { tokenizer, source: "a.txt" }), want);
  // A UTF-8 byte order mark is not part of the text.
  assertEquals(readTextShard(bytes("\ufeffhi\n"), { tokenizer, source: "a.txt" }), want);
});

Deno.test("readTextShard joins JSONL documents with a separator", () => {
  const jsonl = '{"text": "ab"}\n\n{"text": "c", "id": 7}\r\n{"text": ""}\n';
  assertEquals(
    readTextShard(jsonl, { tokenizer, source: "d.jsonl", format: "jsonl" }),
    Uint32Array.of(97, 98, 10, 10, 99, 10, 10),
  );
  assertEquals(
    readTextShard(jsonl, { tokenizer, source: "d.jsonl", format: "jsonl", separator: [0] }),
    Uint32Array.of(97, 98, 0, 99, 0),
  );
});

Deno.test("readTextShard rejects invalid UTF-8", () => {
  assertEquals(
    assertThrows(
      () => readTextShard(Uint8Array.of(104, 0xff, 105), { tokenizer, source: "bad.txt" }),
      DataError,
    )
      .message,
    "bad.txt: not valid UTF-8 text",
  );
});

Deno.test("parseJsonl names the file and line of a bad line", () => {
  assertEquals(parseJsonl('{"text":"a"}\n{"text":"b"}', "x.jsonl"), ["a", "b"]);
  assertEquals(
    assertThrows(() => parseJsonl('{"text":"a"}\n\n{"text": oops}\n', "x.jsonl"), DataError)
      .message,
    "x.jsonl:3: not valid JSON at column 10",
  );
  for (const line of ['{"txt":"a"}', '{"text": 5}', '["a"]', "null"]) {
    assertEquals(
      assertThrows(() => parseJsonl(`{"text":"ok"}\n${line}`, "x.jsonl"), DataError).message,
      'x.jsonl:2: expected an object with a string "text" field',
    );
  }
});
