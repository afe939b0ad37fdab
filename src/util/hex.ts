/**
 * Lower-case hexadecimal text of bytes, the one spelling of hashes and ids in logs, file names,
 * JSON and checkpoint metadata.
 *
 * @module
 */

/** Lower-case hex of `bytes` (two digits a byte). */
export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** The bytes of hex `text` (either case); throws a `RangeError` unless it is whole bytes of hex. */
export function fromHex(text: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(text)) {
    throw new RangeError(`not hex bytes: ${JSON.stringify(text.slice(0, 80))}`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}
