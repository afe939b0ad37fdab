import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { Rng } from "../util/rng.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type NamedTensor,
  SafetensorsError,
} from "./safetensors.ts";

/** A file with a raw header (any text, unpadded) and raw data bytes. */
function rawFile(header: string, data: ArrayLike<number> = []): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** A header of one tensor entry per argument, written as given. */
function header(...entries: [string, unknown][]): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`;
}

function f32(name: string, shape: unknown, offsets: unknown, dtype: unknown = "F32") {
  return [name, { dtype, shape, data_offsets: offsets }] as [string, unknown];
}

function rejects(bytes: Uint8Array, message: string): void {
  assertThrows(() => decodeSafetensors(bytes), SafetensorsError, message);
}

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** Random float32 bit patterns, NaN excluded (they need not survive a JS number). */
function randomFloats(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  const bits = bitsOf(out);
  for (let i = 0; i < n; i++) {
    let b = rng.u32();
    while ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) b = rng.u32();
    bits[i] = b;
  }
  return out;
}

Deno.test("encodeSafetensors round trip is bit-exact, in order, with metadata", () => {
  const rng = new Rng(20240601);
  const tensors: NamedTensor[] = [
    { name: "model.embed_tokens.weight", shape: [7, 5], data: randomFloats(rng, 35) },
    { name: "scalar", shape: [], data: new Float32Array([-0]) },
    { name: "empty", shape: [0, 3], data: new Float32Array(0) },
    { name: "10", shape: [3], data: new Float32Array([Infinity, -Infinity, 1e-45]) },
    { name: "2", shape: [2, 1, 3], data: randomFloats(rng, 6) },
    { name: 'naïve ✓ "quoted"\n', shape: [1], data: new Float32Array([0]) },
  ];
  const metadata: Record<string, string> = { format: "pt", "": "empty key" };
  // An own "__proto__" key (as JSON.parse makes one) must stay data on the way back.
  Object.defineProperty(metadata, "__proto__", { value: "kept", enumerable: true });
  const bytes = encodeSafetensors(tensors, metadata);
  const back = decodeSafetensors(bytes);
  assertEquals(back.tensors.map((t) => t.name), tensors.map((t) => t.name));
  for (let i = 0; i < tensors.length; i++) {
    assertEquals(back.tensors[i].shape, tensors[i].shape, tensors[i].name);
    assertEquals(bitsOf(back.tensors[i].data), bitsOf(tensors[i].data), tensors[i].name);
  }
  assert(Object.is(back.tensors[1].data[0], -0), "negative zero survives");
  assertEquals(Object.keys(back.metadata).sort(), ["", "__proto__", "format"]);
  assertEquals(back.metadata["__proto__"], "kept");
  assertEquals(Object.getPrototypeOf(back.metadata), Object.prototype);
  // The result is a copy, not a view of the input.
  assert(back.tensors[0].data.buffer !== bytes.buffer, "copied");
});

Deno.test("encodeSafetensors writes the Hugging Face layout", () => {
  const bytes = encodeSafetensors([{ name: "a", shape: [1], data: new Float32Array([1]) }]);
  const json = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  const padded = json + " ".repeat(Math.ceil(json.length / 8) * 8 - json.length);
  const expected = new Uint8Array([
    ...[padded.length, 0, 0, 0, 0, 0, 0, 0],
    ...new TextEncoder().encode(padded),
    ...[0x00, 0x00, 0x80, 0x3f],
  ]);
  assertEquals(bytes, expected);
  const empty = new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode("{}      ")]);
  assertEquals(encodeSafetensors([]), empty);
});

Deno.test("encodeSafetensors pads the header with spaces to a multiple of 8", () => {
  for (let len = 1; len <= 16; len++) {
    const name = "x".repeat(len);
    const bytes = encodeSafetensors([{ name, shape: [2], data: new Float32Array([1, 2]) }], {
      k: "v".repeat(len),
    });
    const n = new DataView(bytes.buffer).getUint32(0, true);
    assertEquals(n % 8, 0, `name length ${len}`);
    assertEquals(bytes.length, 8 + n + 8);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assertEquals(text, text.trimEnd() + " ".repeat(text.length - text.trimEnd().length));
    assert(text.length - text.trimEnd().length < 8, "less than 8 spaces");
    assert(text.trimEnd().endsWith("}"), "JSON then spaces");
  }
});

Deno.test("encodeSafetensors rejects invalid tensors and metadata", () => {
  const one = (name: string, shape: number[] = [1], n = 1): NamedTensor => ({
    name,
    shape,
    data: new Float32Array(n),
  });
  const enc = (tensors: NamedTensor[], message: string, meta?: Record<string, string>) =>
    assertThrows(() => encodeSafetensors(tensors, meta), SafetensorsError, message);
  enc([one("a"), one("b"), one("a")], 'encode: tensor "a" appears twice');
  enc([one("")], "encode: a tensor name is empty");
  enc([one("__metadata__")], 'encode: tensor name "__metadata__" is reserved');
  enc([one("bad\ud800")], "is not well-formed Unicode");
  enc([one("a", [2, 3], 5)], 'encode: tensor "a": 5 elements, shape [2,3] has 6');
  enc([one("a", [-1], 0)], 'encode: tensor "a": shape [-1] is not non-negative integers');
  enc([one("a", [1.5], 0)], "is not non-negative integers");
  enc([{ name: "a", shape: [1], data: [1] as unknown as Float32Array }], "data is not float32");
  enc([one("a")], 'encode: metadata "k" is not a string', { k: 1 as unknown as string });
});

Deno.test("decodeSafetensors reads F16 as float32", () => {
  const halves = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x3555, 0x7c00, 0xfc00];
  const expected = [
    1,
    -2,
    65504,
    2 ** -24,
    1023 * 2 ** -24,
    2 ** -14,
    -0,
    0.333251953125,
    Infinity,
    -Infinity,
  ];
  const data = new Uint8Array(2 * (halves.length + 1));
  const view = new DataView(data.buffer);
  halves.forEach((h, i) => view.setUint16(2 * i, h, true));
  view.setUint16(2 * halves.length, 0x7e00, true);
  const n = halves.length + 1;
  const bytes = rawFile(header(f32("h", [n], [0, 2 * n], "F16")), data);
  const [t] = decodeSafetensors(bytes).tensors;
  assertEquals(t.shape, [n]);
  assertEquals(Array.from(t.data.subarray(0, halves.length)), expected);
  assert(Number.isNaN(t.data[halves.length]), "F16 NaN");
});

Deno.test("decodeSafetensors reads BF16 as float32, bit-exact", () => {
  const halves = [0x3f80, 0xc040, 0x8000, 0x7f80, 0x3eaa, 0x0001, 0x7fc1];
  const data = new Uint8Array(2 * halves.length);
  halves.forEach((h, i) => new DataView(data.buffer).setUint16(2 * i, h, true));
  const n = halves.length;
  const [t] = decodeSafetensors(rawFile(header(f32("b", [1, n], [0, 2 * n], "BF16")), data))
    .tensors;
  assertEquals(t.shape, [1, n]);
  assertEquals(Array.from(bitsOf(t.data)), halves.map((h) => (h << 16) >>> 0));
  assertEquals(Array.from(t.data.subarray(0, 6)), [1, -3, -0, Infinity, 0.33203125, 2 ** -133]);
});

Deno.test("decodeSafetensors reads tensors at unaligned offsets", () => {
  // A 5-byte header puts the data at file offset 13, and the file itself starts at an odd
  // offset of its buffer: no 4-byte alignment anywhere.
  const values = new Float32Array([1.5, -2.25, 3e-40]);
  const data = new Uint8Array(values.buffer);
  const file = rawFile(header(f32("a", [3], [0, 12])), data);
  const shifted = new Uint8Array(file.length + 3);
  shifted.set(file, 1);
  const t1 = decodeSafetensors(file).tensors[0];
  const t2 = decodeSafetensors(shifted.subarray(1, 1 + file.length)).tensors[0];
  assertEquals(t1.data, values);
  assertEquals(t2.data, values);
  // Two F16 scalars then an F32: the F32 starts 4 bytes in, the second F16 2 bytes in.
  const mixed = new Uint8Array(8);
  new DataView(mixed.buffer).setUint16(0, 0x3c00, true);
  new DataView(mixed.buffer).setUint16(2, 0x4000, true);
  new DataView(mixed.buffer).setFloat32(4, 7, true);
  const h = header(f32("x", [], [0, 2], "F16"), f32("y", [1], [2, 4], "F16"), f32("z", [], [4, 8]));
  const got = decodeSafetensors(rawFile(h + " ", mixed)).tensors;
  assertEquals(got.map((t) => [t.name, t.shape, Array.from(t.data)]), [
    ["x", [], [1]],
    ["y", [1], [2]],
    ["z", [], [7]],
  ]);
});

Deno.test("decodeSafetensors returns tensors in data order and accepts empty files", () => {
  const data = new Float32Array([1, 2]);
  const h = header(f32("second", [1], [4, 8]), f32("first", [1], [0, 4]));
  const got = decodeSafetensors(rawFile(h, new Uint8Array(data.buffer)));
  assertEquals(got.tensors.map((t) => [t.name, t.data[0]]), [["first", 1], ["second", 2]]);
  assertEquals(decodeSafetensors(rawFile("{}")), { tensors: [], metadata: {} });
  assertEquals(decodeSafetensors(rawFile('{"__metadata__":{"a":"b"}}  \n')).metadata, { a: "b" });
});

Deno.test("decodeSafetensors rejects bad framing", () => {
  rejects(new Uint8Array(7), "safetensors: file is 7 bytes, shorter than the 8-byte header length");
  const huge = new Uint8Array(16).fill(0xff);
  rejects(huge, "safetensors: header length 18446744073709551615 exceeds the limit of 16777216");
  const file = rawFile("{}");
  assertThrows(
    () => decodeSafetensors(file, { maxHeaderBytes: 1 }),
    SafetensorsError,
    "header length 2 exceeds the limit of 1 bytes",
  );
  assertThrows(() => decodeSafetensors(file, { maxHeaderBytes: -1 }), RangeError, "maxHeader");
  const past = rawFile("{}");
  past[0] = 3;
  rejects(past, "safetensors: header length 3 runs past the end of the 10-byte file");
  const notUtf8 = rawFile("{ }");
  notUtf8[9] = 0xff;
  rejects(notUtf8, "safetensors: header is not valid UTF-8");
  rejects(rawFile("\ufeff{}"), "header does not start with '{'");
  rejects(rawFile(" {}"), "header does not start with '{'");
  rejects(rawFile("[]"), "header does not start with '{'");
  rejects(rawFile(""), "header does not start with '{'");
});

Deno.test("decodeSafetensors rejects a header that is not strict JSON", () => {
  const bad = (text: string, what: string) =>
    rejects(rawFile(text), `header is not valid JSON: ${what}`);
  bad("{", "expected a key at character 1");
  bad('{"a":1,}', "expected a key");
  bad("{a:1}", "expected a key");
  bad('{"a" 1}', "expected ':'");
  bad('{"a":1 "b":2}', "expected ',' or '}'");
  bad('{"a":[1 2]}', "expected ',' or ']'");
  bad('{"a":tru}', "unexpected character");
  bad('{"a":01}', "expected ',' or '}'");
  bad('{"a":+1}', "unexpected character");
  bad('{"a":1}x', "unexpected text after the header object");
  bad('{"a":"\t"}', "control character in a string");
  bad('{"a":"\\x"}', "invalid escape");
  bad('{"a":"\\u12g4"}', "invalid \\u escape");
  bad('{"a":"\\ud800"}', "lone surrogate escape");
  bad('{"a":"\\udc00\\ud800"}', "lone surrogate escape");
  bad('{"a":"\\ud800\\u0041"}', "lone surrogate escape");
  bad('{"a":"abc', "unterminated string");
  bad('{"a":' + "[".repeat(40), "nesting deeper than 32");
  bad('{"a":' + "[".repeat(5000), "nesting deeper than 32");
  // Escapes that are valid decode to the same name as their literal form.
  const data = new Uint8Array(4);
  const t = decodeSafetensors(rawFile(header(f32("\u00e9\ud83d\ude00/", [1], [0, 4])), data));
  assertEquals(t.tensors[0].name, "é😀/");
  const escaped = '{"\\u00e9\\ud83d\\ude00\\/":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  assertEquals(decodeSafetensors(rawFile(escaped, data)).tensors[0].name, "é😀/");
});

Deno.test("decodeSafetensors rejects duplicate and empty names", () => {
  const d = new Uint8Array(8);
  const a = JSON.stringify({ dtype: "F32", shape: [1], data_offsets: [0, 4] });
  const b = JSON.stringify({ dtype: "F32", shape: [1], data_offsets: [4, 8] });
  rejects(rawFile(`{"a":${a},"a":${b}}`, d), 'safetensors: tensor "a" appears twice');
  // The same name spelt with an escape is still the same name.
  rejects(rawFile(`{"a":${a},"\\u0061":${b}}`, d), 'tensor "a" appears twice');
  rejects(
    rawFile(header(f32("", [1], [0, 4])), d.subarray(4)),
    "safetensors: a tensor name is empty",
  );
  rejects(
    rawFile(`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, d.subarray(4)),
    'safetensors: header: key "dtype" appears twice',
  );
  rejects(rawFile('{"__metadata__":{"k":"1","k":"2"}}'), 'header: key "k" appears twice');
});

Deno.test("decodeSafetensors rejects bad tensor entries", () => {
  const d4 = new Uint8Array(4);
  const one = (entry: [string, unknown], data: ArrayLike<number> = d4) =>
    rawFile(header(entry), data);
  rejects(one(["a", 5]), 'safetensors: tensor "a": entry is not an object');
  rejects(one(["a", [1]]), 'tensor "a": entry is not an object');
  rejects(
    one(["a", { dtype: "F32", shape: [1], data_offsets: [0, 4], extra: 1 }]),
    'tensor "a": unknown field "extra"',
  );
  rejects(one(["a", { dtype: "F32", shape: [1] }]), 'tensor "a": missing field "data_offsets"');
  rejects(one(f32("a", [1], [0, 4], 32)), 'tensor "a": dtype is not a string');
  rejects(one(f32("a", [1], [0, 8], "F64"), new Uint8Array(8)), 'dtype "F64" is not supported');
  rejects(one(f32("a", [1], [0, 4], "I32")), 'tensor "a": dtype "I32" is not supported (F32, F16');
  rejects(one(f32("a", [1], [0, 4], "toString")), 'dtype "toString" is not supported');
  const shapeMsg = 'tensor "a": shape is not an array of non-negative integers';
  for (const shape of [[-1], [1.5], ["1"], 1, null, [1e300], [[1]], [2 ** 53]]) {
    rejects(one(f32("a", shape, [0, 4])), shapeMsg);
  }
  rejects(one(f32("a", [2 ** 40, 2 ** 40], [0, 4])), 'tensor "a": shape [1099511627776,');
  const offMsg = 'tensor "a": data_offsets is not [begin, end] non-negative integers';
  for (const off of [[0], [0, 4, 8], [0, "4"], [-4, 0], [0, 4.5], "0,4", null]) {
    rejects(one(f32("a", [1], off)), offMsg);
  }
  rejects(one(f32("a", [1], [4, 0])), 'tensor "a": data_offsets [4, 0] end before begin');
  rejects(
    one(f32("a", [2], [0, 4])),
    'tensor "a": data_offsets [0, 4] span 4 bytes, shape [2] of F32 needs 8',
  );
  rejects(
    one(f32("a", [2], [0, 6], "F16"), new Uint8Array(6)),
    "span 6 bytes, shape [2] of F16 needs 4",
  );
  rejects(
    one(f32("a", [1], [4, 8])),
    'tensor "a": data_offsets [4, 8] past the end of the 4-byte data buffer',
  );
  rejects(one(f32("a", [1], [2 ** 52, 2 ** 52 + 4])), "past the end of the 4-byte data buffer");
});

Deno.test("decodeSafetensors rejects overlaps, gaps and trailing bytes", () => {
  const d = (n: number) => new Uint8Array(n);
  rejects(
    rawFile(header(f32("a", [2], [0, 8]), f32("b", [1], [4, 8])), d(8)),
    'safetensors: tensor "b" overlaps tensor "a"',
  );
  rejects(
    rawFile(header(f32("a", [1], [0, 4]), f32("b", [1], [0, 4])), d(4)),
    'tensor "b" overlaps tensor "a"',
  );
  rejects(
    rawFile(header(f32("a", [2], [0, 8]), f32("e", [0], [4, 4])), d(8)),
    'tensor "e" overlaps tensor "a"',
  );
  rejects(
    rawFile(header(f32("a", [1], [0, 4]), f32("b", [1], [8, 12])), d(12)),
    'safetensors: data buffer has unused bytes [4, 8) before tensor "b"',
  );
  rejects(rawFile(header(f32("a", [1], [4, 8])), d(8)), 'unused bytes [0, 4) before tensor "a"');
  rejects(
    rawFile(header(f32("a", [1], [0, 4])), d(5)),
    "safetensors: data buffer has 1 trailing bytes not covered by any tensor",
  );
  rejects(rawFile("{}", d(3)), "data buffer has 3 trailing bytes");
  // Empty tensors may sit anywhere inside the covered range, including at its ends.
  const ok = header(f32("z0", [0], [0, 0]), f32("a", [1], [0, 4]), f32("z1", [2, 0], [4, 4]));
  assertEquals(decodeSafetensors(rawFile(ok, d(4))).tensors.map((t) => t.name), ["z0", "a", "z1"]);
});

Deno.test("decodeSafetensors rejects bad metadata", () => {
  rejects(rawFile('{"__metadata__":{"k":1}}'), 'safetensors: metadata "k" is not a string');
  rejects(rawFile('{"__metadata__":{"k":null}}'), 'metadata "k" is not a string');
  rejects(rawFile('{"__metadata__":["k"]}'), "safetensors: __metadata__ is not an object");
  rejects(rawFile('{"__metadata__":"k"}'), "__metadata__ is not an object");
  rejects(
    rawFile('{"__metadata__":{},"__metadata__":{}}'),
    'header: key "__metadata__" appears twice',
  );
});

Deno.test("decodeSafetensors throws only SafetensorsError on 4000 mutated files", () => {
  const rng = new Rng(77);
  const valid = encodeSafetensors(
    [
      { name: "w", shape: [3, 4], data: randomFloats(rng, 12) },
      { name: "b", shape: [4], data: randomFloats(rng, 4) },
      { name: "s", shape: [], data: new Float32Array([2]) },
    ],
    { format: "webloco", note: "\\u0041 \u00e9" },
  );
  const n = new DataView(valid.buffer).getUint32(0, true);
  const jsonish = new TextEncoder().encode('{}[]",:\\0123456789-.eEtfnu ');
  let accepted = 0;
  for (let iter = 0; iter < 4000; iter++) {
    let bytes = valid.slice();
    const kind = rng.int(6);
    const edits = 1 + rng.int(3);
    for (let e = 0; e < edits; e++) {
      if (kind === 0) bytes[rng.int(bytes.length)] ^= 1 << rng.int(8);
      else if (kind === 1) bytes[rng.int(bytes.length)] = rng.int(256);
      else if (kind === 2) bytes[8 + rng.int(n)] = jsonish[rng.int(jsonish.length)];
      else if (kind === 3) bytes = bytes.slice(0, rng.int(bytes.length + 1));
      else if (kind === 4) bytes[rng.int(8)] = rng.int(256);
      else {
        const at = rng.int(bytes.length + 1);
        const grown = new Uint8Array(bytes.length + 1);
        grown.set(bytes.subarray(0, at));
        grown[at] = jsonish[rng.int(jsonish.length)];
        grown.set(bytes.subarray(at), at + 1);
        bytes = grown;
      }
    }
    try {
      const got = decodeSafetensors(bytes);
      accepted++;
      for (const t of got.tensors) {
        assertEquals(t.data.length, t.shape.reduce((a, b) => a * b, 1), `iteration ${iter}`);
      }
    } catch (e) {
      if (!(e instanceof SafetensorsError)) {
        throw new Error(`iteration ${iter}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
      }
      assert(!e.message.includes("\n"), `one-line message: ${e.message}`);
    }
  }
  // Flips inside tensor data keep the file valid; most other mutations do not.
  assert(accepted > 100 && accepted < 3000, `accepted ${accepted}`);
});
