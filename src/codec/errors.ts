/**
 * The one error type of the codec layer.
 *
 * @module
 */

/** Where in a message a problem was found. */
export interface CodecErrorLocation {
  /** Byte offset in the message. */
  offset?: number;
  /** Position of the tensor in the message (0-based). */
  tensor?: number;
  /** Tile index within the tensor. */
  tile?: number;
}

/**
 * A malformed, oversized or unexpected message (or an update that cannot be encoded). The
 * message is one line saying what is wrong and where; the location is also in the fields.
 */
export class CodecError extends Error {
  override name = "CodecError";
  /** Byte offset in the message, when known. */
  readonly offset?: number;
  /** Position of the tensor in the message, when known. */
  readonly tensor?: number;
  /** Tile index within the tensor, when known. */
  readonly tile?: number;

  constructor(what: string, where: CodecErrorLocation = {}) {
    const parts: string[] = [];
    if (where.tensor !== undefined) parts.push(`tensor ${where.tensor}`);
    if (where.tile !== undefined) parts.push(`tile ${where.tile}`);
    if (where.offset !== undefined) parts.push(`byte ${where.offset}`);
    super(parts.length > 0 ? `${what} (${parts.join(", ")})` : what);
    this.offset = where.offset;
    this.tensor = where.tensor;
    this.tile = where.tile;
  }
}
