/**
 * The error type of the net layer.
 *
 * @module
 */

/** What went wrong, machine-readable. */
export type NetErrorCode =
  /** The provider does not hold the requested payload. */
  | "not_found"
  /** A payload (or a gossip message) is larger than the limit in force. */
  | "too_large"
  /** The provider is serving too many requests (from us or from everyone). */
  | "busy"
  /** The bytes received do not hash to the requested sha256. */
  | "hash_mismatch"
  /** A deadline passed. */
  | "timeout"
  /** The caller's signal aborted the operation. */
  | "aborted"
  /** The remote broke the wire format (bad status, bad length, early end of stream). */
  | "protocol"
  /** The remote says our request was malformed. */
  | "bad_request"
  /** The remote could not be reached or refused the protocol. */
  | "dial"
  /** The node could not start (e.g. a listen address is in use). */
  | "start"
  /** Every provider was tried and none delivered, or the peer serves no history (sync). */
  | "unavailable"
  /** The remote failed while answering (its history source threw or broke its limits). */
  | "remote_error"
  /** A bad argument from the caller (a hash of the wrong length, an unknown topic…). */
  | "invalid_argument";

/**
 * A failure of the net layer: the message is one line, `code` says which kind, `cause` holds
 * the underlying error when there is one.
 */
export class NetError extends Error {
  /** "NetError". */
  override name = "NetError";
  /** The kind of failure. */
  readonly code: NetErrorCode;

  /** An error of kind `code` with a one-line `message`. */
  constructor(code: NetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Whether `err` is a {@linkcode NetError}, optionally of the given code. */
export function isNetError(err: unknown, code?: NetErrorCode): err is NetError {
  return err instanceof NetError && (code === undefined || err.code === code);
}
