/**
 * The data layer's user-facing error.
 *
 * Entry points print `error: <message>` for a {@linkcode DataError} and exit with status 1,
 * without a stack trace, so its message must stand alone on one line: name the file (or other
 * source) first, then what was expected and what was found.
 *
 * @module
 */

/**
 * A problem with the user's data or configuration (a malformed tokenizer, a corrupt shard, a
 * missing file), as opposed to a bug in webloco.
 *
 * @example
 * ```ts
 * throw new DataError("corpus.bin: bad magic 42 (expected 20240520 or 20240801)");
 * ```
 */
export class DataError extends Error {
  /** Creates the error; `message` should be one line. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataError";
  }
}
