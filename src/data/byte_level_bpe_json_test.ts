import { assert, assertEquals } from "../testing/assert.ts";
import { byteLevelBpeJson, byteLevelBpeText } from "./byte_level_bpe_json.ts";

Deno.test("byteLevelBpeText is byteLevelBpeJson's object, vocabulary in id order", () => {
  const parts = {
    tokens: { "he": 256, "12": 257, "Ġhe": 258 },
    merges: [["h", "e"], ["1", "2"], ["Ġ", "he"]] as [string, string][],
    preTokenizer: { type: "ByteLevel", add_prefix_space: false },
    decoder: { type: "ByteLevel" },
  };
  const text = byteLevelBpeText(parts);
  assertEquals(JSON.parse(text), byteLevelBpeJson(parts));
  const ids = [...text.matchAll(/^ {6}"(?:[^"\\]|\\.)*": (\d+)/gm)].map((m) => Number(m[1]));
  assertEquals(ids, Array.from({ length: 259 }, (_, i) => i), "every id, in order");
  assert(text.includes(`\n  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},\n`));
  assert(text.includes(`\n      ["1", "2"],\n`), "a merge on one line");
  assert(byteLevelBpeText({ ...parts, tokens: {}, merges: [] }).includes(`"merges": []`));
});
