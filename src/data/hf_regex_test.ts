import { assertEquals, assertThrows } from "../testing/assert.ts";
import { compileHfRegex, escapeRegex } from "./hf_regex.ts";

const matches = (pattern: string, text: string) =>
  [...text.matchAll(compileHfRegex(pattern))].map((m) => m[0]);

Deno.test("compileHfRegex expands (?i:…) into explicit cases", () => {
  assertEquals(compileHfRegex("(?i:'s|x)").source, "(?:'[sS]|[xX])");
  assertEquals(matches("(?i:'s|'ll)", "it'S we'Ll"), ["'S", "'Ll"]);
  assertEquals(compileHfRegex("(?i:[a-c_])d").source, "(?:[a-c_A-C])d");
});

Deno.test("compileHfRegex uses Oniguruma's Unicode classes", () => {
  // \s: U+0085 is whitespace for Oniguruma, U+FEFF is not (the reverse of JS).
  assertEquals(matches("\\s+", "a\u0085b\ufeffc"), ["\u0085"]);
  // \w and \d are Unicode-aware.
  assertEquals(matches("\\w+", "héllo wörld"), ["héllo", "wörld"]);
  assertEquals(matches("\\d", "1٣"), ["1", "٣"]);
  assertEquals(matches("[\\s\\d]+", "a 1\u00a0b"), [" 1\u00a0"]);
});

Deno.test("compileHfRegex accepts Oniguruma escapes and literal braces", () => {
  assertEquals(matches("\\x{41}\\'", "A'"), ["A'"]);
  assertEquals(matches("\\p{N}{1,3}", "12345"), ["123", "45"]);
  assertEquals(matches("[]a]", "]a"), ["]", "a"]);
  assertEquals(matches("a{b}", "a{b}"), ["a{b}"]);
});

Deno.test("compileHfRegex rejects unsupported features", () => {
  assertEquals(
    assertThrows(() => compileHfRegex("\\K"), Error).message,
    'regex "\\\\K": the escape \\K is not supported',
  );
  assertThrows(() => compileHfRegex("(?i)a"), Error, /the group "\(\?i\)" is not supported/);
  assertThrows(() => compileHfRegex("(a"), Error, /an unclosed \( is not supported/);
  assertThrows(() => compileHfRegex("[a[b]]"), Error, /a nested character class/);
});

Deno.test("escapeRegex matches text literally", () => {
  const s = "<|a.b*c|>[x]{y}(z)?+^$\\/-";
  assertEquals(new RegExp(escapeRegex(s), "u").exec("x" + s)?.[0], s);
});
