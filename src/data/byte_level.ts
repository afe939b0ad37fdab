/**
 * GPT-2's byte-level alphabet: a reversible map from the 256 byte values to printable
 * Unicode characters, so that byte-level BPE vocabularies can be stored as JSON strings.
 *
 * @module
 */

/** `BYTE_TO_CHAR[b]` is the character that stands for byte `b` (GPT-2's `bytes_to_unicode`). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  // Printable Latin-1 bytes stand for themselves; the rest are shifted past U+00FF in order.
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    out.push(String.fromCharCode(printable(b) ? b : 256 + n++));
  }
  return out;
})();

/** The inverse of {@linkcode BYTE_TO_CHAR}: character → byte value. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(
  BYTE_TO_CHAR.map((c, b) => [c, b]),
);

const encoder = new TextEncoder();

/** Maps the UTF-8 bytes of `text` to their byte-level characters. */
export function toByteLevel(text: string): string {
  let out = "";
  for (const b of encoder.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}
