/**
 * The interface every tokenizer implements.
 *
 * @module
 */

/** Turns text into token ids and back. Implementations must be pure and deterministic. */
export interface Tokenizer {
  /** Number of distinct ids: every id that `encode` returns is below it. */
  vocabSize: number;
  /** Encodes text into token ids (no BOS/EOS is added). */
  encode(text: string): Uint32Array;
  /** Decodes token ids into text; ids that the tokenizer does not know decode to U+FFFD. */
  decode(ids: ArrayLike<number>): string;
  /** A short name that identifies the tokenizer, e.g. in a run's configuration. */
  name: string;
}
