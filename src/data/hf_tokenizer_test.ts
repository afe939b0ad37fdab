import { assertEquals, assertThrows } from "../testing/assert.ts";
import { byteLevelBpeJson } from "./byte_level_bpe_json.ts";
import { DataError } from "./errors.ts";
import { parseHfTokenizer } from "./hf_tokenizer.ts";

// The tokenizer files below are tiny but shaped like the real ones; the expected ids were
// worked out by hand (and agree with Hugging Face's `tokenizers` 0.22 on the same files).

// ---- byte-level BPE (GPT-2 / LLaMA-3 style) ----
// ids 0..255: the byte-level character of that byte, so a byte's id is its value.
const BL_MERGES: [string, string][] = [
  ["Ġ", "t"], // 256 "Ġt"
  ["h", "e"], // 257 "he"
  ["Ġt", "he"], // 258 "Ġthe"
  ["l", "l"], // 259 "ll"
  ["he", "ll"], // 260 "hell"
  ["o", "r"], // 261 "or"
  ["3", "4"], // 262 "34"
  ["'", "M"], // 263 "'M"
];
const XYZ = 264; // "xyz", in the vocab but not reachable by merges
const EOT = 265; // "<|endoftext|>", an added token

interface ByteLevelOptions {
  split?: string; // a Split regex before ByteLevel (LLaMA-3); else ByteLevel's own regex
  ignoreMerges?: boolean;
  mergesAsStrings?: boolean;
  addPrefixSpace?: boolean;
}

function byteLevelJson(opts: ByteLevelOptions = {}): string {
  const tokens: Record<string, number> = {};
  BL_MERGES.forEach(([a, b], i) => tokens[a + b] = 256 + i);
  tokens["xyz"] = XYZ;
  const byteLevel = {
    type: "ByteLevel",
    add_prefix_space: opts.addPrefixSpace ?? false,
    trim_offsets: true,
    use_regex: opts.split === undefined,
  };
  return JSON.stringify(byteLevelBpeJson({
    tokens,
    merges: opts.mergesAsStrings ? BL_MERGES.map(([a, b]) => `${a} ${b}`) : BL_MERGES,
    addedTokens: [special(EOT, "<|endoftext|>")],
    preTokenizer: opts.split === undefined ? byteLevel : {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: opts.split }, behavior: "Isolated", invert: false },
        byteLevel,
      ],
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    ignoreMerges: opts.ignoreMerges,
  }));
}

const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const ids = (t: { encode(s: string): Uint32Array }, s: string) => [...t.encode(s)];

/** An added_tokens entry as Hugging Face writes it. */
const special = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

Deno.test("parseHfTokenizer byte-level BPE encodes by merge rank", () => {
  const tok = parseHfTokenizer(byteLevelJson(), "gpt2.json");
  // "hello" → he (rank 1), ll (rank 3), hell (rank 4); " the" → Ġt, he, Ġthe;
  // " world" → only o r merges.
  assertEquals(ids(tok, "hello the world"), [260, 111, 258, 32, 119, 261, 108, 100]);
  assertEquals(ids(tok, "the"), [116, 257]);
  // Equal ranks merge leftmost first.
  assertEquals(ids(tok, "lll"), [259, 108]);
  // Multi-byte characters become their UTF-8 bytes.
  assertEquals(ids(tok, "é"), [0xc3, 0xa9]);
  assertEquals(ids(tok, ""), []);
  assertEquals(tok.vocabSize, 266);
  assertEquals(tok.name, "hf:gpt2.json");
});

Deno.test("parseHfTokenizer byte-level BPE accepts merges as strings or pairs", () => {
  const a = parseHfTokenizer(byteLevelJson({ mergesAsStrings: true }), "a.json");
  const b = parseHfTokenizer(byteLevelJson(), "b.json");
  const s = "hello the world, tell the 12345 hells";
  assertEquals(ids(a, s), ids(b, s));
});

Deno.test("parseHfTokenizer byte-level BPE uses GPT-2's regex without a Split", () => {
  const tok = parseHfTokenizer(byteLevelJson(), "gpt2.json");
  // One piece "12345": the "3 4" merge applies.
  assertEquals(ids(tok, "12345"), [49, 50, 262, 53]);
  // GPT-2's contractions are case-sensitive: "'M" splits into "'" and "M".
  assertEquals(ids(tok, "I'M"), [73, 39, 77]);
});

Deno.test("parseHfTokenizer byte-level BPE uses the file's Split regex", () => {
  const tok = parseHfTokenizer(byteLevelJson({ split: LLAMA3_SPLIT }), "llama3.json");
  // Digits in groups of three: "123" + "45", so "3 4" never meets.
  assertEquals(ids(tok, "12345"), [49, 50, 51, 52, 53]);
  // (?i:…'m…) matches "'M", which then merges.
  assertEquals(ids(tok, "I'M"), [73, 263]);
});

Deno.test("parseHfTokenizer byte-level BPE add_prefix_space adds a leading space", () => {
  const tok = parseHfTokenizer(byteLevelJson({ addPrefixSpace: true }), "p.json");
  assertEquals(ids(tok, "the"), [258]);
  assertEquals(tok.decode(tok.encode("the")), " the");
});

Deno.test("parseHfTokenizer ignore_merges uses whole-word vocab entries", () => {
  const plain = parseHfTokenizer(byteLevelJson({ split: LLAMA3_SPLIT }), "a.json");
  const ignore = parseHfTokenizer(
    byteLevelJson({ split: LLAMA3_SPLIT, ignoreMerges: true }),
    "b.json",
  );
  assertEquals(ids(plain, "xyz"), [120, 121, 122]);
  assertEquals(ids(ignore, "xyz"), [XYZ]);
});

Deno.test("parseHfTokenizer encodes and decodes added tokens", () => {
  const tok = parseHfTokenizer(byteLevelJson(), "gpt2.json");
  assertEquals(ids(tok, "a<|endoftext|>b"), [97, EOT, 98]);
  assertEquals(tok.decode([97, EOT, 98]), "a<|endoftext|>b");
});

Deno.test("parseHfTokenizer decodes unknown ids as U+FFFD", () => {
  const tok = parseHfTokenizer(byteLevelJson(), "gpt2.json");
  assertEquals(tok.decode([104, 9999, 105]), "h\uFFFDi");
});

const VARIED = [
  "Hello, world!",
  "  leading and trailing spaces  ",
  "tabs\tnewlines\n\r\nand\n\nblank lines\n",
  "naïve café, Ærøskøbing, straße",
  "Привет, мир! Γειά σου Κόσμε! مرحبا بالعالم",
  "日本語のテキスト and 中文",
  "emoji 👍🏽 🇫🇷 family 👨‍👩‍👧",
  "numbers 3.14159 1,000,000 2024-05-20",
  "I'M SHOUTING, you're we'll they'd",
  "code: def f(x):\n    return x**2  # comment",
  "a",
  " ",
];

Deno.test("parseHfTokenizer byte-level BPE round-trips varied text", () => {
  for (const split of [undefined, LLAMA3_SPLIT]) {
    const tok = parseHfTokenizer(byteLevelJson({ split }), "t.json");
    for (const s of VARIED) assertEquals(tok.decode(tok.encode(s)), s);
  }
});

// ---- SentencePiece-style BPE (LLaMA-2 style) ----
// ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then the pieces below.
const SP_PIECES = ["▁", "h", "e", "l", "o", "w", "r", "d"]; // 259..266
const SP_MERGES: [string, string][] = [
  ["h", "e"], // 267 "he"
  ["l", "l"], // 268 "ll"
  ["▁", "he"], // 269 "▁he"
  ["▁he", "ll"], // 270 "▁hell"
  ["▁hell", "o"], // 271 "▁hello"
  ["o", "r"], // 272 "or"
];
const byteId = (b: number) => 3 + b;

interface SpOptions {
  byteFallback?: boolean;
  fuseUnk?: boolean;
  metaspace?: boolean; // Metaspace pre-tokenizer/decoder instead of normalizer + decoders
}

function sentencePieceJson(opts: SpOptions = {}): string {
  const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  for (let b = 0; b < 256; b++) {
    vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = byteId(b);
  }
  SP_PIECES.forEach((p, i) => vocab[p] = 259 + i);
  SP_MERGES.forEach(([a, b], i) => vocab[a + b] = 267 + i);
  const metaspace = { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false };
  return JSON.stringify({
    version: "1.0",
    added_tokens: [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
    normalizer: opts.metaspace ? null : {
      type: "Sequence",
      normalizers: [
        { type: "Prepend", prepend: "▁" },
        { type: "Replace", pattern: { String: " " }, content: "▁" },
      ],
    },
    pre_tokenizer: opts.metaspace ? metaspace : null,
    post_processor: null,
    decoder: opts.metaspace
      ? { type: "Sequence", decoders: [metaspace, { type: "ByteFallback" }, { type: "Fuse" }] }
      : {
        type: "Sequence",
        decoders: [
          { type: "Replace", pattern: { String: "▁" }, content: " " },
          { type: "ByteFallback" },
          { type: "Fuse" },
          { type: "Strip", content: " ", start: 1, stop: 0 },
        ],
      },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: opts.fuseUnk ?? true,
      byte_fallback: opts.byteFallback ?? true,
      vocab,
      merges: SP_MERGES.map(([a, b]) => `${a} ${b}`),
    },
  });
}

Deno.test("parseHfTokenizer SentencePiece-style BPE encodes with ▁ for spaces", () => {
  for (const metaspace of [false, true]) {
    const tok = parseHfTokenizer(sentencePieceJson({ metaspace }), "llama2.json");
    // "▁hello▁world": ▁hello via four merges, then ▁ w or l d.
    assertEquals(ids(tok, "hello world"), [271, 259, 264, 272, 262, 266]);
    assertEquals(tok.decode([271, 259, 264, 272, 262, 266]), "hello world");
  }
});

Deno.test("parseHfTokenizer SentencePiece-style BPE falls back to byte tokens", () => {
  const tok = parseHfTokenizer(sentencePieceJson(), "llama2.json");
  // "é" is not in the vocab: its UTF-8 bytes C3 A9 as <0xC3> <0xA9>.
  assertEquals(ids(tok, "hé"), [259, 260, byteId(0xc3), byteId(0xa9)]);
  assertEquals(tok.decode([259, 260, byteId(0xc3), byteId(0xa9)]), "hé");
  assertEquals(ids(tok, "\n"), [259, byteId(0x0a)]);
  // An invalid UTF-8 run decodes to one U+FFFD per byte.
  assertEquals(tok.decode([260, byteId(0xc3), 260]), "h\uFFFDh");
});

Deno.test("parseHfTokenizer SentencePiece-style BPE uses unk without byte fallback", () => {
  const fused = parseHfTokenizer(sentencePieceJson({ byteFallback: false }), "a.json");
  assertEquals(ids(fused, "hxyz"), [259, 260, 0]);
  const unfused = parseHfTokenizer(
    sentencePieceJson({ byteFallback: false, fuseUnk: false }),
    "b.json",
  );
  assertEquals(ids(unfused, "hxyz"), [259, 260, 0, 0, 0]);
});

Deno.test("parseHfTokenizer SentencePiece-style BPE round-trips varied text", () => {
  for (const metaspace of [false, true]) {
    const tok = parseHfTokenizer(sentencePieceJson({ metaspace }), "llama2.json");
    for (const s of VARIED) {
      // Metaspace prepends "▁" only when the text does not start with a space, but its
      // decoder always drops the first one (as in Hugging Face): leading spaces are lossy.
      if (metaspace && s.startsWith(" ")) continue;
      assertEquals(tok.decode(tok.encode(s)), s);
    }
  }
});

Deno.test("parseHfTokenizer SentencePiece-style BPE encodes special tokens", () => {
  const tok = parseHfTokenizer(sentencePieceJson(), "llama2.json");
  assertEquals(ids(tok, "<s>hello</s>"), [1, 271, 2]);
  assertEquals(tok.decode([1, 271, 2]), "<s> hello</s>");
});

// ---- errors ----

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

function edited(json: string, edit: (root: Json) => void): string {
  const root = JSON.parse(json);
  edit(root);
  return JSON.stringify(root);
}

/** Asserts that `json` is refused with the DataError `<name>: <message>`. */
function assertRefused(json: string, message: string, name = "tokenizer.json"): void {
  assertEquals(
    assertThrows(() => parseHfTokenizer(json, name), DataError).message,
    `${name}: ${message}`,
  );
}

Deno.test("parseHfTokenizer rejects invalid JSON with its position", () => {
  assertRefused('{"model": }', "not valid JSON at position 10 (line 1 column 11)");
  assertRefused("", "not valid JSON at position 0 (line 1 column 1)");
});

Deno.test("parseHfTokenizer rejects unsupported model types", () => {
  const unigram = JSON.stringify({ model: { type: "Unigram", vocab: [["a", 0]] } });
  assertRefused(unigram, 'model.type "Unigram" is not supported (BPE only)');
  assertRefused("[1, 2]", "expected a JSON object at the top level");
  assertRefused("{}", 'missing the "model" object');
});

Deno.test("parseHfTokenizer rejects malformed and unsupported parts", () => {
  const base = byteLevelJson();
  const cases: [(root: Json) => void, string][] = [
    [
      (r) => r.model.merges.push(["q", "zz"]),
      'model.merges[8] uses "zz", which is not in the vocab',
    ],
    [
      (r) => r.model.merges.push("a b c"),
      'model.merges[8] should be "a b" or ["a", "b"], got "a b c"',
    ],
    [(r) => r.model.vocab = [], "model.vocab should be an object mapping tokens to ids"],
    [(r) => r.model.vocab.a = -1, 'model.vocab["a"] should be a non-negative integer id'],
    [
      (r) => r.model.dropout = 0.1,
      "model.dropout is not supported (sampling would not be deterministic)",
    ],
    [(r) => r.model.unk_token = "<unk>", 'model.unk_token "<unk>" is not in the vocab'],
    [
      (r) => r.model.continuing_subword_prefix = "##",
      "model.continuing_subword_prefix is not supported",
    ],
    [
      (r) => r.normalizer = { type: "Precompiled" },
      'normalizer.type "Precompiled" is not supported',
    ],
    [
      (r) => r.pre_tokenizer = { type: "BertPreTokenizer" },
      'pre_tokenizer.type "BertPreTokenizer" is not supported',
    ],
    [(r) => r.decoder = { type: "WordPiece" }, 'decoder.type "WordPiece" is not supported'],
    [
      (r) => r.added_tokens = [{ id: "x", content: "a" }],
      "added_tokens[0].id should be a non-negative integer",
    ],
    [
      (r) => r.pre_tokenizer = { type: "Split", pattern: { Regex: "\\Kx" }, behavior: "Isolated" },
      'pre_tokenizer.pattern: regex "\\\\Kx": the escape \\K is not supported',
    ],
    [
      (r) => r.pre_tokenizer = { type: "Split", pattern: { Regex: "a" }, behavior: "Sideways" },
      'pre_tokenizer.behavior "Sideways" is not supported',
    ],
  ];
  for (const [edit, message] of cases) {
    assertRefused(edited(base, edit), message, "tok.json");
  }
});
