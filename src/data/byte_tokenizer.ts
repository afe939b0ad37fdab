/**
 * The embedded default tokenizer: one token per UTF-8 byte.
 *
 * @module
 */

import type { Tokenizer } from "./tokenizer.ts";

const encoder = new TextEncoder();
// Not fatal: a model can emit byte sequences that are not valid UTF-8.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * A tokenizer whose tokens are the UTF-8 bytes of the text (vocabSize 256). Needs no files,
 * so it is the default; `decode(encode(s)) === s` for every string without lone surrogates.
 *
 * @example
 * ```ts
 * const t = new ByteTokenizer();
 * t.encode("hé"); // Uint32Array [104, 195, 169]
 * ```
 */
export class ByteTokenizer implements Tokenizer {
  /** Always 256. */
  readonly vocabSize = 256;
  /** Always "bytes". */
  readonly name = "bytes";

  /** Encodes text into its UTF-8 bytes, one id per byte. */
  encode(text: string): Uint32Array {
    return Uint32Array.from(encoder.encode(text));
  }

  /** Decodes ids as UTF-8 bytes; invalid sequences and ids ≥ 256 become U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    const bytes = new Uint8Array(ids.length);
    let out = "";
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (Number.isInteger(id) && id >= 0 && id < 256) {
        bytes[n++] = id;
      } else {
        out += decoder.decode(bytes.subarray(0, n)) + "\uFFFD";
        n = 0;
      }
    }
    return out + decoder.decode(bytes.subarray(0, n));
  }
}
