/**
 * The error type of the identity layer.
 *
 * @module
 */

/** A bad key, address or key file: the message is one line naming what is wrong. */
export class IdentityError extends Error {
  /** "IdentityError". */
  override name = "IdentityError";
}
