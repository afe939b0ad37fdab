/**
 * Generated token ids as text, piece by piece, for streaming output.
 *
 * @module
 */

import type { Tokenizer } from "../data/tokenizer.ts";

/**
 * Decodes the generated ids as they come and hands out the new text; a trailing U+FFFD (a
 * character whose bytes are not all there yet) is held back until the next token or the end.
 */
export class TextStream {
  readonly #ids: number[] = [];
  #emitted = 0;
  constructor(private readonly tokenizer: Tokenizer) {}

  /** The text that `id` completes. */
  push(id: number): string {
    this.#ids.push(id);
    const text = this.tokenizer.decode(this.#ids);
    const ready = text.endsWith("\uFFFD") ? text.replace(/\uFFFD+$/, "") : text;
    const out = ready.slice(this.#emitted);
    this.#emitted = Math.max(this.#emitted, ready.length);
    return out;
  }

  /** The text held back. */
  flush(): string {
    const out = this.tokenizer.decode(this.#ids).slice(this.#emitted);
    this.#emitted += out.length;
    return out;
  }
}
