/**
 * The response statuses of the fetch-by-hash protocols (payload and content) and the error
 * each one means to a client: one table, so that the two protocols cannot drift apart on the
 * wire. (The sync protocol has statuses of its own.)
 *
 * ```
 * 0 OK: the body; 1 NOT_FOUND, 2 TOO_LARGE, 3 BUSY, 4 BAD_REQUEST: a UTF-8 reason
 * ```
 *
 * @module
 */

import { NetError } from "./errors.ts";

/** Response status codes of the payload and content protocols. */
export const FetchStatus: Readonly<{
  OK: 0;
  NOT_FOUND: 1;
  TOO_LARGE: 2;
  BUSY: 3;
  BAD_REQUEST: 4;
}> = Object.freeze({ OK: 0, NOT_FOUND: 1, TOO_LARGE: 2, BUSY: 3, BAD_REQUEST: 4 } as const);

/** The error of a non-OK {@linkcode FetchStatus}, with the server's reason `text`. */
export function fetchStatusError(status: number, text: string): NetError {
  switch (status) {
    case FetchStatus.NOT_FOUND:
      return new NetError("not_found", text);
    case FetchStatus.TOO_LARGE:
      return new NetError("too_large", text);
    case FetchStatus.BUSY:
      return new NetError("busy", text);
    case FetchStatus.BAD_REQUEST:
      return new NetError("bad_request", text);
    default:
      return new NetError("protocol", `unknown status ${status}: ${text}`);
  }
}
