/**
 * Deno-only: a node's libp2p key (Ed25519) in a file of its data directory, created on first
 * use, so its peer id survives restarts. Owner-only (0600) from the first byte.
 *
 * @module
 */

import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { StateError } from "../protocol/state_store.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";

/** The key in `path`, or a new one written there. A damaged file is a `StateError`, never replaced. */
export async function libp2pKeyFile(path: string): Promise<PrivateKey> {
  try {
    return privateKeyFromProtobuf(await Deno.readFile(path));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new StateError(`${path}: not a libp2p private key (${(e as Error).message})`);
    }
  }
  const key = await generateKeyPair("Ed25519");
  await writeFileAtomic(path, privateKeyToProtobuf(key), { mode: 0o600 });
  return key;
}
