/**
 * Loads Hugging Face `tokenizer.json` files (BPE models only) from their text.
 *
 * Supported: byte-level BPE (GPT-2, LLaMA-3: ByteLevel pre-tokenizer and decoder, optionally
 * after a Split regex) and SentencePiece-style BPE (LLaMA-2, Mistral: `▁` for spaces through a
 * Prepend/Replace normalizer or a Metaspace pre-tokenizer, `<0xXX>` byte fallback). Added
 * tokens found in the raw text are encoded as themselves (longest match first; their
 * lstrip/rstrip/single_word/normalized flags are ignored). The post-processor is ignored, so
 * no BOS/EOS is added. Checked against Hugging Face `tokenizers` 0.22 on the LLaMA-2 and
 * LLaMA-3 files: identical ids. Not supported (they throw a {@linkcode DataError}): other model types,
 * BPE dropout, subword prefixes/suffixes, and components not listed in this file.
 *
 * No `Deno.*` here: browsers use this module too.
 *
 * @module
 */

import { Bpe } from "./bpe.ts";
import { CHAR_TO_BYTE, toByteLevel } from "./byte_level.ts";
import { DataError } from "./errors.ts";
import { compileHfRegex, escapeRegex } from "./hf_regex.ts";
import { jsonErrorWhere } from "./json_error.ts";
import type { Tokenizer } from "./tokenizer.ts";

// GPT-2's pre-tokenizer regex, used by ByteLevel with use_regex.
export const GPT2_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

type Obj = Record<string, unknown>;
type Normalizer = (text: string) => string;
/** `atStart`: the first piece begins at the start of the input (for Metaspace "first"). */
type PreTokenizer = (pieces: string[], atStart: boolean) => string[];
type Decoder = (tokens: string[]) => string[];
type Behavior = "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";

/**
 * Parses the text of a Hugging Face `tokenizer.json` into a {@linkcode Tokenizer}.
 *
 * `source` names the file in error messages, e.g. `tokenizer.json: model.type "Unigram" is
 * not supported (BPE only)`. Throws {@linkcode DataError} for malformed or unsupported files.
 *
 * @example
 * ```ts
 * const tok = parseHfTokenizer(await (await fetch(url)).text(), "tokenizer.json");
 * tok.decode(tok.encode("Hello")); // "Hello"
 * ```
 */
export function parseHfTokenizer(json: string, source: string): Tokenizer {
  let root: unknown;
  try {
    root = JSON.parse(json);
  } catch {
    throw new DataError(`${source}: not valid JSON${jsonErrorWhere(json)}`);
  }
  return new HfParser(source).tokenizer(root);
}

function isObj(x: unknown): x is Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Walks the parsed JSON, building each component; every error names the source and path. */
class HfParser {
  constructor(private readonly source: string) {}

  private fail(message: string): never {
    throw new DataError(`${this.source}: ${message}`);
  }

  private str(o: Obj, key: string, path: string, fallback?: string): string {
    const v = o[key] ?? fallback;
    if (typeof v !== "string") this.fail(`${path}.${key} should be a string`);
    return v;
  }

  private bool(o: Obj, key: string, path: string, fallback: boolean): boolean {
    const v = o[key] ?? fallback;
    if (typeof v !== "boolean") this.fail(`${path}.${key} should be true or false`);
    return v;
  }

  private arr(o: Obj, key: string, path: string): unknown[] {
    const v = o[key];
    if (!Array.isArray(v)) this.fail(`${path}.${key} should be an array`);
    return v;
  }

  private type(o: unknown, path: string): string {
    if (!isObj(o)) this.fail(`${path} should be an object`);
    const t = o.type;
    if (typeof t !== "string") this.fail(`${path}.type should be a string`);
    return t;
  }

  private unsupported(path: string, t: string): never {
    this.fail(`${path}.type ${JSON.stringify(t)} is not supported`);
  }

  /** A Split/Replace pattern: `{"String": s}` (literal) or `{"Regex": r}`. */
  private pattern(o: Obj, path: string): RegExp {
    const p = o.pattern;
    if (isObj(p) && typeof p.String === "string") {
      if (p.String === "") this.fail(`${path}.pattern.String should not be empty`);
      return new RegExp(escapeRegex(p.String), "gu");
    }
    if (isObj(p) && typeof p.Regex === "string") return this.regex(p.Regex, `${path}.pattern`);
    this.fail(`${path}.pattern should be {"String": …} or {"Regex": …}`);
  }

  private regex(pattern: string, path: string): RegExp {
    try {
      return compileHfRegex(pattern);
    } catch (e) {
      this.fail(`${path}: ${(e as Error).message}`);
    }
  }

  tokenizer(root: unknown): Tokenizer {
    if (!isObj(root)) this.fail("expected a JSON object at the top level");
    const model = root.model;
    if (!isObj(model)) this.fail(`missing the "model" object`);
    const mtype = model.type ?? (Array.isArray(model.merges) ? "BPE" : undefined);
    if (mtype !== "BPE") {
      this.fail(`model.type ${JSON.stringify(mtype ?? null)} is not supported (BPE only)`);
    }
    if (model.dropout != null && model.dropout !== 0) {
      this.fail("model.dropout is not supported (sampling would not be deterministic)");
    }
    for (const key of ["continuing_subword_prefix", "end_of_word_suffix"]) {
      if (model[key] != null && model[key] !== "") this.fail(`model.${key} is not supported`);
    }

    const vocab = this.vocab(model);
    const merges = this.merges(model);
    const unk = model.unk_token;
    if (unk != null && typeof unk !== "string") this.fail("model.unk_token should be a string");
    const bpe = new Bpe({
      vocab,
      merges,
      unkToken: unk,
      fuseUnk: this.bool(model, "fuse_unk", "model", false),
      byteFallback: this.bool(model, "byte_fallback", "model", false),
      ignoreMerges: this.bool(model, "ignore_merges", "model", false),
      source: this.source,
    });

    const added = this.addedTokens(root);
    const idToToken: (string | undefined)[] = [];
    for (const [tok, id] of vocab) idToToken[id] = tok;
    for (const [tok, id] of added) idToToken[id] = tok;

    return new HfTokenizer({
      name: `hf:${this.source}`,
      bpe,
      added,
      idToToken,
      normalizer: root.normalizer == null
        ? undefined
        : this.normalizer(root.normalizer, "normalizer"),
      preTokenizer: root.pre_tokenizer == null
        ? undefined
        : this.preTokenizer(root.pre_tokenizer, "pre_tokenizer"),
      decoder: root.decoder == null ? undefined : this.decoder(root.decoder, "decoder"),
    });
  }

  private vocab(model: Obj): Map<string, number> {
    const v = model.vocab;
    if (!isObj(v)) this.fail(`model.vocab should be an object mapping tokens to ids`);
    const vocab = new Map<string, number>();
    for (const [tok, id] of Object.entries(v)) {
      if (!Number.isInteger(id) || (id as number) < 0) {
        this.fail(`model.vocab[${JSON.stringify(tok)}] should be a non-negative integer id`);
      }
      vocab.set(tok, id as number);
    }
    if (vocab.size === 0) this.fail("model.vocab is empty");
    return vocab;
  }

  private merges(model: Obj): [string, string][] {
    if (model.merges == null) return [];
    return this.arr(model, "merges", "model").map((m, i): [string, string] => {
      // Older files write "a b"; newer ones write ["a", "b"] so tokens may contain spaces.
      if (typeof m === "string") {
        const parts = m.split(" ");
        if (parts.length === 2) return [parts[0], parts[1]];
      } else if (
        Array.isArray(m) && m.length === 2 && typeof m[0] === "string" &&
        typeof m[1] === "string"
      ) {
        return [m[0], m[1]];
      }
      this.fail(`model.merges[${i}] should be "a b" or ["a", "b"], got ${short(m)}`);
    });
  }

  private addedTokens(root: Obj): Map<string, number> {
    const added = new Map<string, number>();
    if (root.added_tokens == null) return added;
    this.arr(root, "added_tokens", "").forEach((t, i) => {
      const path = `added_tokens[${i}]`;
      if (!isObj(t)) this.fail(`${path} should be an object`);
      if (!Number.isInteger(t.id) || (t.id as number) < 0) {
        this.fail(`${path}.id should be a non-negative integer`);
      }
      const content = this.str(t, "content", path);
      if (content !== "") added.set(content, t.id as number);
    });
    return added;
  }

  private normalizer(n: unknown, path: string): Normalizer {
    const t = this.type(n, path);
    const o = n as Obj;
    switch (t) {
      case "Sequence": {
        const parts = this.arr(o, "normalizers", path).map((x, i) =>
          this.normalizer(x, `${path}.normalizers[${i}]`)
        );
        return (s) => parts.reduce((acc, f) => f(acc), s);
      }
      case "Prepend": {
        const prepend = this.str(o, "prepend", path);
        // Hugging Face leaves empty text empty.
        return (s) => s === "" ? s : prepend + s;
      }
      case "Replace": {
        const re = this.pattern(o, path);
        const content = this.str(o, "content", path);
        return (s) => s.replace(re, () => content);
      }
      case "NFC":
      case "NFD":
      case "NFKC":
      case "NFKD":
        return (s) => s.normalize(t);
      case "Lowercase":
        return (s) => s.toLowerCase();
      case "Strip": {
        const left = this.bool(o, "strip_left", path, true);
        const right = this.bool(o, "strip_right", path, true);
        return (s) => {
          if (left) s = s.trimStart();
          if (right) s = s.trimEnd();
          return s;
        };
      }
      default:
        this.unsupported(path, t);
    }
  }

  private preTokenizer(p: unknown, path: string): PreTokenizer {
    const t = this.type(p, path);
    const o = p as Obj;
    switch (t) {
      case "Sequence": {
        const parts = this.arr(o, "pretokenizers", path).map((x, i) =>
          this.preTokenizer(x, `${path}.pretokenizers[${i}]`)
        );
        return (pieces, atStart) => parts.reduce((acc, f) => f(acc, atStart), pieces);
      }
      case "Split": {
        const re = this.pattern(o, path);
        const behavior = this.str(o, "behavior", path);
        if (!BEHAVIORS.has(behavior)) {
          this.fail(`${path}.behavior ${JSON.stringify(behavior)} is not supported`);
        }
        const invert = this.bool(o, "invert", path, false);
        return (pieces) => pieces.flatMap((s) => split(s, re, behavior as Behavior, invert));
      }
      case "ByteLevel": {
        const prefix = this.bool(o, "add_prefix_space", path, false);
        const useRegex = this.bool(o, "use_regex", path, true);
        const re = useRegex ? compileHfRegex(GPT2_PATTERN) : undefined;
        return (pieces) =>
          pieces.flatMap((s) => {
            if (prefix && !s.startsWith(" ")) s = " " + s;
            const words = re ? split(s, re, "Isolated", false) : [s];
            return words.map(toByteLevel);
          });
      }
      case "Metaspace": {
        const repl = this.str(o, "replacement", path, "▁");
        if ([...repl].length !== 1) this.fail(`${path}.replacement should be one character`);
        const scheme = this.prependScheme(o, path);
        const doSplit = this.bool(o, "split", path, true);
        const re = new RegExp(escapeRegex(repl), "gu");
        return (pieces, atStart) =>
          pieces.flatMap((s, i) => {
            s = s.replaceAll(" ", repl);
            const first = atStart && i === 0;
            if ((scheme === "always" || (scheme === "first" && first)) && !s.startsWith(repl)) {
              s = repl + s;
            }
            return doSplit ? split(s, re, "MergedWithNext", false) : [s];
          });
      }
      case "Digits": {
        const individual = this.bool(o, "individual_digits", path, false);
        const re = new RegExp(individual ? "\\p{N}" : "\\p{N}+", "gu");
        return (pieces) => pieces.flatMap((s) => split(s, re, "Isolated", false));
      }
      case "Whitespace": {
        const re = compileHfRegex("\\w+|[^\\w\\s]+");
        return (pieces) => pieces.flatMap((s) => split(s, re, "Removed", true));
      }
      case "WhitespaceSplit": {
        const re = compileHfRegex("\\s+");
        return (pieces) => pieces.flatMap((s) => split(s, re, "Removed", false));
      }
      default:
        this.unsupported(path, t);
    }
  }

  /** Metaspace's prepend_scheme, or the older add_prefix_space flag. */
  private prependScheme(o: Obj, path: string): "always" | "first" | "never" {
    if (o.prepend_scheme != null) {
      const s = o.prepend_scheme;
      if (s === "always" || s === "first" || s === "never") return s;
      this.fail(`${path}.prepend_scheme should be "always", "first" or "never"`);
    }
    return this.bool(o, "add_prefix_space", path, true) ? "always" : "never";
  }

  private decoder(d: unknown, path: string): Decoder {
    const t = this.type(d, path);
    const o = d as Obj;
    switch (t) {
      case "Sequence": {
        const parts = this.arr(o, "decoders", path).map((x, i) =>
          this.decoder(x, `${path}.decoders[${i}]`)
        );
        return (tokens) => parts.reduce((acc, f) => f(acc), tokens);
      }
      case "ByteLevel":
        return byteLevelDecode;
      case "Metaspace": {
        const repl = this.str(o, "replacement", path, "▁");
        const scheme = this.prependScheme(o, path);
        return (tokens) =>
          tokens.map((tok, i) => {
            // Drop the "▁" the encoder prepended. Only that one: Hugging Face drops every "▁"
            // of the first token, which loses real spaces ("▁▁" → "").
            if (i === 0 && scheme !== "never" && tok.startsWith(repl)) {
              tok = tok.slice(repl.length);
            }
            return tok.replaceAll(repl, " ");
          });
      }
      case "Replace": {
        const re = this.pattern(o, path);
        const content = this.str(o, "content", path);
        return (tokens) => tokens.map((tok) => tok.replace(re, () => content));
      }
      case "ByteFallback":
        return byteFallbackDecode;
      case "Fuse":
        return (tokens) => [tokens.join("")];
      case "Strip": {
        const content = this.str(o, "content", path);
        const start = o.start ?? 0, stop = o.stop ?? 0;
        if (!Number.isInteger(start) || !Number.isInteger(stop)) {
          this.fail(`${path}.start and .stop should be integers`);
        }
        return (tokens) =>
          tokens.map((tok) => strip(tok, content, start as number, stop as number));
      }
      default:
        this.unsupported(path, t);
    }
  }
}

const BEHAVIORS = new Set([
  "Removed",
  "Isolated",
  "MergedWithPrevious",
  "MergedWithNext",
  "Contiguous",
]);

/** Splits `text` around the matches of `re` (global) as Hugging Face's Split does. */
function split(text: string, re: RegExp, behavior: Behavior, invert: boolean): string[] {
  if (text === "") return [];
  // Segments [start, end, isMatch] covering the text; empty matches are ignored.
  const segs: [number, number, boolean][] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    const start = m.index, end = m.index + m[0].length;
    if (start === end) continue;
    if (start > last) segs.push([last, start, invert]);
    segs.push([start, end, !invert]);
    last = end;
  }
  if (last < text.length) segs.push([last, text.length, invert]);

  let spans: [number, number][];
  switch (behavior) {
    case "Isolated":
      spans = segs.map(([s, e]) => [s, e]);
      break;
    case "Removed":
      spans = segs.filter(([, , m]) => !m).map(([s, e]) => [s, e]);
      break;
    case "MergedWithPrevious": {
      spans = [];
      let prevMatch = false;
      for (const [s, e, m] of segs) {
        if (m && !prevMatch && spans.length > 0) spans[spans.length - 1][1] = e;
        else spans.push([s, e]);
        prevMatch = m;
      }
      break;
    }
    case "MergedWithNext": {
      spans = [];
      let nextMatch = false;
      for (let k = segs.length - 1; k >= 0; k--) {
        const [s, e, m] = segs[k];
        if (m && !nextMatch && spans.length > 0) spans[spans.length - 1][0] = s;
        else spans.push([s, e]);
        nextMatch = m;
      }
      spans.reverse();
      break;
    }
    case "Contiguous": {
      spans = [];
      let prevMatch = false;
      for (const [s, e, m] of segs) {
        if (m === prevMatch && spans.length > 0) spans[spans.length - 1][1] = e;
        else spans.push([s, e]);
        prevMatch = m;
      }
      break;
    }
  }
  return spans.map(([s, e]) => text.slice(s, e));
}

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** Byte-level tokens back to text; a token with a character outside the map keeps its bytes. */
function byteLevelDecode(tokens: string[]): string[] {
  const bytes: number[] = [];
  for (const tok of tokens) {
    const mapped: number[] = [];
    let ok = true;
    for (const c of tok) {
      const b = CHAR_TO_BYTE.get(c);
      if (b === undefined) {
        ok = false;
        break;
      }
      mapped.push(b);
    }
    for (const b of ok ? mapped : utf8Encoder.encode(tok)) bytes.push(b);
  }
  return [utf8.decode(new Uint8Array(bytes))];
}

/** Joins runs of `<0xXX>` tokens into text; an invalid UTF-8 run gives one U+FFFD per byte. */
function byteFallbackDecode(tokens: string[]): string[] {
  const out: string[] = [];
  let run: number[] = [];
  const flush = () => {
    if (run.length === 0) return;
    try {
      out.push(utf8Strict.decode(new Uint8Array(run)));
    } catch {
      out.push("\uFFFD".repeat(run.length));
    }
    run = [];
  };
  for (const tok of tokens) {
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(tok);
    if (m) {
      run.push(parseInt(m[1], 16));
    } else {
      flush();
      out.push(tok);
    }
  }
  flush();
  return out;
}

/** Removes up to `start` leading and `stop` trailing copies of `content` from `tok`. */
function strip(tok: string, content: string, start: number, stop: number): string {
  const chars = [...tok];
  let a = 0, b = chars.length;
  while (a < start && a < b && chars[a] === content) a++;
  while (chars.length - b < stop && b > a && chars[b - 1] === content) b--;
  return chars.slice(a, b).join("");
}

function short(x: unknown): string {
  const s = JSON.stringify(x) ?? String(x);
  return s.length > 40 ? s.slice(0, 37) + "..." : s;
}

interface HfParts {
  name: string;
  bpe: Bpe;
  added: Map<string, number>;
  idToToken: (string | undefined)[];
  normalizer?: Normalizer;
  preTokenizer?: PreTokenizer;
  decoder?: Decoder;
}

/** The tokenizer assembled from a parsed file. */
class HfTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  private readonly parts: HfParts;
  private readonly addedRe: RegExp | undefined;

  constructor(parts: HfParts) {
    this.parts = parts;
    this.name = parts.name;
    this.vocabSize = parts.idToToken.length;
    // Longest first, so that the leftmost match is also the longest one there.
    const contents = [...parts.added.keys()].sort((a, b) => b.length - a.length);
    this.addedRe = contents.length > 0
      ? new RegExp(contents.map(escapeRegex).join("|"), "gu")
      : undefined;
  }

  encode(text: string): Uint32Array {
    const out: number[] = [];
    const { added } = this.parts;
    let last = 0;
    if (this.addedRe) {
      for (const m of text.matchAll(this.addedRe)) {
        if (m.index > last) this.encodeSegment(text.slice(last, m.index), last === 0, out);
        out.push(added.get(m[0])!);
        last = m.index + m[0].length;
      }
    }
    if (last < text.length) this.encodeSegment(text.slice(last), last === 0, out);
    return Uint32Array.from(out);
  }

  private encodeSegment(text: string, atStart: boolean, out: number[]): void {
    const { normalizer, preTokenizer, bpe } = this.parts;
    const normalized = normalizer ? normalizer(text) : text;
    if (normalized === "") return;
    const pieces = preTokenizer ? preTokenizer([normalized], atStart) : [normalized];
    for (const piece of pieces) bpe.encodeWord(piece, out);
  }

  decode(ids: ArrayLike<number>): string {
    const { idToToken, decoder } = this.parts;
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) tokens.push(idToToken[ids[i]] ?? "\uFFFD");
    return (decoder ? decoder(tokens) : tokens).join("");
  }
}
