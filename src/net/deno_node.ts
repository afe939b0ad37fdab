/**
 * The webloco node under Deno: listens on TCP and WebSockets (browsers dial the latter), with
 * Noise, yamux, identify, ping, gossipsub and the payload protocol.
 *
 * ```ts
 * const node = await createDenoNode({ runId, validate, bootstrap: ["/ip4/…/tcp/…/p2p/…"] });
 * node.subscribe(node.topics.updates, (m) => console.log(m.from, m.data.length));
 * await node.publish(node.topics.updates, bytes);
 * const payload = await node.fetch(hash, [providerPeerId]);
 * await node.stop();
 * ```
 *
 * @module
 */

import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { createLibp2p, type Libp2pOptions } from "libp2p";
import { installDenoShims } from "./deno_shims.ts";
import {
  weblocoLibp2pOptions,
  WeblocoNode,
  type WeblocoNodeOptions,
  type WeblocoServices,
} from "./node.ts";

/** Default listen addresses: loopback TCP and WebSockets on free ports. */
export const DEFAULT_DENO_LISTEN: readonly string[] = Object.freeze([
  "/ip4/127.0.0.1/tcp/0",
  "/ip4/127.0.0.1/tcp/0/ws",
]);

/** Options of {@linkcode createDenoNode}. */
export interface DenoNodeOptions extends WeblocoNodeOptions {
  /** Listen multiaddrs (TCP, and `/ws` for browsers); default {@linkcode DEFAULT_DENO_LISTEN}. */
  listen?: readonly string[];
  /** Addresses to announce instead of the listen addresses (public IPs, DNS names). */
  announce?: readonly string[];
}

type MuxerFactory = NonNullable<Libp2pOptions["streamMuxers"]>[number];
type EncrypterFactory = NonNullable<Libp2pOptions["connectionEncrypters"]>[number];

/**
 * Creates and starts a webloco node with TCP and WebSockets listeners. Stop it with
 * `node.stop()`. Throws if a listen address cannot be bound.
 */
export async function createDenoNode(options: DenoNodeOptions): Promise<WeblocoNode> {
  installDenoShims();
  const parts = weblocoLibp2pOptions(options);
  const libp2p = await createLibp2p<WeblocoServices>({
    ...parts.libp2p,
    addresses: {
      listen: [...(options.listen ?? DEFAULT_DENO_LISTEN)],
      announce: options.announce !== undefined ? [...options.announce] : undefined,
    },
    transports: [tcp(), webSockets()],
    // yamux 8 and noise 17 declare uint8arraylist 2 while libp2p 3.3 uses 3: identical at run
    // time, distinct to the type checker, hence the casts.
    connectionEncrypters: [noise() as unknown as EncrypterFactory],
    streamMuxers: [yamux() as unknown as MuxerFactory],
  });
  return WeblocoNode.start(libp2p, parts, options);
}

export { WeblocoNode };
