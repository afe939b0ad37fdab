/** The identity of a model state: SHA-256 of its flat float32 parameters (little-endian bytes). */
export async function modelHash(params: Float32Array): Promise<Uint8Array> {
  const bytes = new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice()));
}

/** Lower-case hex of a hash (for logs and file names). */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
