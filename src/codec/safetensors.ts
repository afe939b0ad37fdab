/**
 * Hugging Face safetensors files of float tensors: an encoder (F32) and a strict decoder (F32,
 * F16 and BF16, all returned as `Float32Array`) that is safe on hostile or corrupted input.
 *
 * ```
 * 0      header length N      u64 little-endian
 * 8      header               N bytes of UTF-8 JSON, padded with spaces to a multiple of 8:
 *                             {"__metadata__": {string: string},
 *                              "<name>": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}}
 * 8 + N  data buffer          tensor bytes, little-endian; offsets are relative to its start
 * ```
 *
 * The decoder accepts a file only if the Hugging Face reader would, and is stricter where that
 * one is lenient: the header is parsed by a small JSON parser of its own, so that a key given
 * twice (which `JSON.parse` silently resolves to the last one) is an error, tensor entries may
 * have no unknown fields, and the tensors must cover the data buffer exactly (no overlaps, no
 * gaps, no trailing bytes). Every failure is a {@linkcode SafetensorsError} with a one-line
 * message; nothing is allocated before the sizes it depends on have been checked against the
 * length of the input.
 *
 * @module
 */

/** One named tensor, row-major. */
export interface NamedTensor {
  /** Its name, e.g. "model.norm.weight". */
  name: string;
  /** Its shape (row-major); `[]` is a scalar. */
  shape: number[];
  /** Its elements, `product(shape)` of them. */
  data: Float32Array;
}

/** A file that is not a valid safetensors file of float tensors, or tensors that cannot be one. */
export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** Limits of {@linkcode decodeSafetensors}. */
export interface DecodeSafetensorsOptions {
  /** The largest JSON header accepted, in bytes (default 16 MiB, as the Hugging Face reader). */
  maxHeaderBytes?: number;
}

/** The default of {@linkcode DecodeSafetensorsOptions.maxHeaderBytes}: 16 MiB. */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024 * 1024;

const METADATA_KEY = "__metadata__";
const ITEM_BYTES: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2 };
const TENSOR_FIELDS = ["dtype", "shape", "data_offsets"] as const;
// Nothing valid nests deeper than 3 (header → tensor → shape); the limit bounds the recursion.
const MAX_DEPTH = 32;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(message: string): never {
  throw new SafetensorsError(`safetensors: ${message}`);
}

/** A name or value quoted for a message: JSON keeps it on one line, long ones are cut. */
function q(s: string): string {
  return JSON.stringify(s.length > 80 ? s.slice(0, 80) + "…" : s);
}

// Lone surrogates cannot be written as UTF-8, so such a name would not survive a round trip.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Encodes tensors (in the given order, as F32) and optional string metadata as a safetensors
 * file. Throws {@linkcode SafetensorsError} when a name is empty, repeated, "__metadata__" or
 * not well-formed Unicode, a shape is not a list of non-negative integers, or the data length
 * is not the product of the shape.
 */
export function encodeSafetensors(
  tensors: readonly NamedTensor[],
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const parts: string[] = [];
  const metaKeys = metadata === undefined ? [] : Object.keys(metadata);
  if (metaKeys.length > 0) {
    const fields = metaKeys.map((k) => {
      const v = metadata![k];
      if (LONE_SURROGATE.test(k)) fail(`encode: metadata key ${q(k)} is not well-formed Unicode`);
      if (typeof v !== "string") fail(`encode: metadata ${q(k)} is not a string`);
      if (LONE_SURROGATE.test(v)) fail(`encode: metadata ${q(k)} is not well-formed Unicode`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${fields.join(",")}}`);
  }
  const seen = new Set<string>();
  let dataBytes = 0;
  for (const t of tensors) {
    const name = t.name;
    if (typeof name !== "string" || name === "") fail("encode: a tensor name is empty");
    if (name === METADATA_KEY) fail(`encode: tensor name ${q(name)} is reserved`);
    if (LONE_SURROGATE.test(name)) {
      fail(`encode: tensor name ${q(name)} is not well-formed Unicode`);
    }
    if (seen.has(name)) fail(`encode: tensor ${q(name)} appears twice`);
    seen.add(name);
    if (!Array.isArray(t.shape)) fail(`encode: tensor ${q(name)}: shape is not an array`);
    let numel = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) {
        fail(`encode: tensor ${q(name)}: shape [${t.shape}] is not non-negative integers`);
      }
      numel *= d;
    }
    if (!(t.data instanceof Float32Array)) fail(`encode: tensor ${q(name)}: data is not float32`);
    if (t.data.length !== numel) {
      fail(`encode: tensor ${q(name)}: ${t.data.length} elements, shape [${t.shape}] has ${numel}`);
    }
    const end = dataBytes + 4 * numel;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"F32","shape":[${t.shape.join(",")}],` +
        `"data_offsets":[${dataBytes},${end}]}`,
    );
    dataBytes = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  // Spaces up to a multiple of 8 keep the data buffer 8-aligned in the file (as HF writes it).
  const headerBytes = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerBytes + dataBytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes, true);
  view.setUint32(4, Math.floor(headerBytes / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerBytes);
  let at = 8 + headerBytes;
  for (const t of tensors) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    } else {
      for (let i = 0; i < t.data.length; i++) view.setFloat32(at + 4 * i, t.data[i], true);
    }
    at += t.data.byteLength;
  }
  return out;
}

/** A parsed JSON value; objects are maps, in the order their keys appear. */
type Json = null | boolean | number | string | Json[] | Map<string, Json>;

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** A strict JSON parser (RFC 8259) that rejects repeated keys and lone surrogate escapes. */
class HeaderParser {
  private i = 0;
  constructor(private readonly s: string) {}

  parse(): Json {
    const v = this.value(0);
    this.ws();
    if (this.i < this.s.length) this.bad("unexpected text after the header object");
    return v;
  }

  private bad(what: string): never {
    fail(`header is not valid JSON: ${what} at character ${this.i}`);
  }

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      this.i++;
    }
  }

  private value(depth: number): Json {
    this.ws();
    const c = this.s[this.i];
    if (c === "{") return this.object(depth + 1);
    if (c === "[") return this.array(depth + 1);
    if (c === '"') return this.string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (m === null) this.bad(c === undefined ? "unexpected end" : "unexpected character");
    this.i += m[0].length;
    return Number(m[0]);
  }

  private object(depth: number): Map<string, Json> {
    if (depth > MAX_DEPTH) this.bad(`nesting deeper than ${MAX_DEPTH}`);
    this.i++;
    const out = new Map<string, Json>();
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.bad("expected a key");
      const key = this.string();
      if (out.has(key)) {
        const tensor = depth === 1 && key !== METADATA_KEY;
        fail(tensor ? `tensor ${q(key)} appears twice` : `header: key ${q(key)} appears twice`);
      }
      this.ws();
      if (this.s[this.i] !== ":") this.bad("expected ':'");
      this.i++;
      out.set(key, this.value(depth));
      this.ws();
      const c = this.s[this.i++];
      if (c === "}") return out;
      if (c !== ",") this.bad("expected ',' or '}'");
    }
  }

  private array(depth: number): Json[] {
    if (depth > MAX_DEPTH) this.bad(`nesting deeper than ${MAX_DEPTH}`);
    this.i++;
    const out: Json[] = [];
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.ws();
      const c = this.s[this.i++];
      if (c === "]") return out;
      if (c !== ",") this.bad("expected ',' or ']'");
    }
  }

  private string(): string {
    const s = this.s;
    this.i++;
    let out = "";
    let start = this.i;
    for (;;) {
      if (this.i >= s.length) this.bad("unterminated string");
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(start, this.i++);
        return out;
      }
      if (c < 0x20) this.bad("control character in a string");
      if (c !== 0x5c) {
        this.i++;
        continue;
      }
      out += s.slice(start, this.i);
      const e = s[this.i + 1];
      this.i += 2;
      if (Object.hasOwn(ESCAPES, e)) {
        out += ESCAPES[e];
      } else if (e === "u") {
        const hi = this.hex4();
        if (hi >= 0xdc00 && hi <= 0xdfff) this.bad("lone surrogate escape");
        if (hi >= 0xd800 && hi <= 0xdbff) {
          if (s[this.i] !== "\\" || s[this.i + 1] !== "u") this.bad("lone surrogate escape");
          this.i += 2;
          const lo = this.hex4();
          if (lo < 0xdc00 || lo > 0xdfff) this.bad("lone surrogate escape");
          out += String.fromCharCode(hi, lo);
        } else {
          out += String.fromCharCode(hi);
        }
      } else {
        this.i--;
        this.bad("invalid escape");
      }
      start = this.i;
    }
  }

  private hex4(): number {
    const h = this.s.slice(this.i, this.i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.bad("invalid \\u escape");
    this.i += 4;
    return parseInt(h, 16);
  }
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  numel: number;
  begin: number;
  end: number;
}

function isMap(v: Json | undefined): v is Map<string, Json> {
  return v instanceof Map;
}

function nonNegativeInt(v: Json): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(name: string, info: Json, dataBytes: number): Entry {
  const t = `tensor ${q(name)}`;
  if (name === "") fail("a tensor name is empty");
  if (!isMap(info)) fail(`${t}: entry is not an object`);
  for (const k of info.keys()) {
    if (!(TENSOR_FIELDS as readonly string[]).includes(k)) fail(`${t}: unknown field ${q(k)}`);
  }
  for (const k of TENSOR_FIELDS) if (!info.has(k)) fail(`${t}: missing field "${k}"`);

  const dtype = info.get("dtype")!;
  if (typeof dtype !== "string") fail(`${t}: dtype is not a string`);
  if (!Object.hasOwn(ITEM_BYTES, dtype)) {
    fail(`${t}: dtype ${q(dtype)} is not supported (F32, F16 or BF16)`);
  }
  const itemBytes = ITEM_BYTES[dtype];

  const shape = info.get("shape")!;
  if (!Array.isArray(shape) || !shape.every(nonNegativeInt)) {
    fail(`${t}: shape is not an array of non-negative integers`);
  }
  let numel = 1;
  for (const d of shape as number[]) {
    // Bounded by the data buffer below; here only kept exact (a product past 2^53 is a lie).
    if (d !== 0 && numel > Number.MAX_SAFE_INTEGER / d / itemBytes) {
      fail(`${t}: shape [${shape}] is too large`);
    }
    numel *= d;
  }

  const offsets = info.get("data_offsets")!;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(nonNegativeInt)) {
    fail(`${t}: data_offsets is not [begin, end] non-negative integers`);
  }
  const [begin, end] = offsets as number[];
  if (end < begin) fail(`${t}: data_offsets [${begin}, ${end}] end before begin`);
  if (end - begin !== numel * itemBytes) {
    fail(
      `${t}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, ` +
        `shape [${shape}] of ${dtype} needs ${numel * itemBytes}`,
    );
  }
  if (end > dataBytes) {
    fail(`${t}: data_offsets [${begin}, ${end}] past the end of the ${dataBytes}-byte data buffer`);
  }
  return { name, dtype, shape: (shape as number[]).slice(), numel, begin, end };
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f === 0 ? sign * Infinity : NaN;
  return sign * (1024 + f) * 2 ** (e - 25);
}

function readTensor(bytes: Uint8Array, at: number, e: Entry): Float32Array {
  const out = new Float32Array(e.numel);
  if (e.dtype === "F32") {
    // Always a copy: the result must not alias the input, and `at` may not be 4-aligned.
    if (LITTLE_ENDIAN) {
      new Uint8Array(out.buffer).set(bytes.subarray(at, at + 4 * e.numel));
    } else {
      const v = new DataView(bytes.buffer, bytes.byteOffset + at, 4 * e.numel);
      for (let i = 0; i < e.numel; i++) out[i] = v.getFloat32(4 * i, true);
    }
  } else if (e.dtype === "F16") {
    for (let i = 0, p = at; i < e.numel; i++, p += 2) {
      out[i] = halfToFloat(bytes[p] | (bytes[p + 1] << 8));
    }
  } else {
    // BF16 is the upper half of a float32: shifting the bits is exact, NaN payloads included.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0, p = at; i < e.numel; i++, p += 2) {
      bits[i] = ((bytes[p] | (bytes[p + 1] << 8)) << 16) >>> 0;
    }
    if (!LITTLE_ENDIAN) { for (let i = 0; i < e.numel; i++) out[i] = bitsToFloat(bits[i]); }
  }
  return out;
}

function bitsToFloat(b: number): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setUint32(0, b);
  return v.getFloat32(0);
}

/**
 * Decodes a safetensors file of F32, F16 or BF16 tensors into `Float32Array`s (always copies),
 * in the order of their data in the file, plus its metadata. Throws
 * {@linkcode SafetensorsError} on anything malformed (see the module documentation) and never
 * anything else; a `RangeError` only for invalid `options`.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  options: DecodeSafetensorsOptions = {},
): { tensors: NamedTensor[]; metadata: Record<string, string> } {
  const limit = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`maxHeaderBytes must be a non-negative integer, got ${limit}`);
  }
  if (!(bytes instanceof Uint8Array)) fail("input is not a Uint8Array");
  if (bytes.length < 8) {
    fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  }
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(limit)) fail(`header length ${n} exceeds the limit of ${limit} bytes`);
  const headerBytes = Number(n);
  if (8 + headerBytes > bytes.length) {
    fail(`header length ${n} runs past the end of the ${bytes.length}-byte file`);
  }

  let text: string;
  try {
    // ignoreBOM keeps a byte order mark in the text, where the '{' check below rejects it.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
      .decode(bytes.subarray(8, 8 + headerBytes));
  } catch {
    fail("header is not valid UTF-8");
  }
  // The Hugging Face reader requires this too; it also rules out a header that is not an object.
  if (text[0] !== "{") fail("header does not start with '{'");
  const header = new HeaderParser(text).parse();
  if (!isMap(header)) fail("header is not a JSON object");

  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [key, value] of header) {
    if (key === METADATA_KEY) {
      if (!isMap(value)) fail(`${METADATA_KEY} is not an object`);
      for (const [k, v] of value) {
        if (typeof v !== "string") fail(`metadata ${q(k)} is not a string`);
        // defineProperty: a key "__proto__" must be data, not a prototype change.
        Object.defineProperty(metadata, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    } else {
      entries.push(parseEntry(key, value, dataBytes));
    }
  }

  // Stable sort: equal spans (empty tensors) keep their header order.
  const byOffset = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous = "";
  for (const e of byOffset) {
    if (e.begin < covered) fail(`tensor ${q(e.name)} overlaps tensor ${q(previous)}`);
    if (e.begin > covered) {
      fail(`data buffer has unused bytes [${covered}, ${e.begin}) before tensor ${q(e.name)}`);
    }
    covered = e.end;
    previous = e.name;
  }
  if (covered !== dataBytes) {
    fail(`data buffer has ${dataBytes - covered} trailing bytes not covered by any tensor`);
  }

  const tensors = byOffset.map((e) => ({
    name: e.name,
    shape: e.shape,
    data: readTensor(bytes, dataStart + e.begin, e),
  }));
  return { tensors, metadata };
}
