/**
 * The textual check the codec and the genesis apply to multiaddrs (peer announcements,
 * bootstrap lists). Full parsing belongs to the net layer; here only the shape is checked, so
 * that garbage is refused early and neither needs a multiaddr codec table.
 *
 * @module
 */

/** Longest multiaddr text accepted (a WebRTC/WebTransport address with certhashes fits). */
export const MAX_MULTIADDR_CHARS = 255;

/** Whether `s` looks like a multiaddr: "/" then printable ASCII without spaces, ≤ 255 chars. */
export function isMultiaddrText(s: unknown): s is string {
  return typeof s === "string" && s.length >= 2 && s.length <= MAX_MULTIADDR_CHARS &&
    /^\/[\x21-\x7e]+$/.test(s);
}
