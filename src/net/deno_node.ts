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
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
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

/** The three uses of an address on a server's command line. */
export type AddressUse = "listen" | "announce" | "bootstrap";

/** An example of each use's form, for error messages. */
export const ADDRESS_EXAMPLES: Readonly<Record<AddressUse, string>> = Object.freeze({
  listen: "/ip4/0.0.0.0/tcp/4001 (or /ip4/0.0.0.0/tcp/4002/ws for browsers)",
  announce: "/ip4/203.0.113.5/tcp/4001 or /dns4/node.example.org/tcp/4002/ws",
  bootstrap: "/ip4/203.0.113.5/tcp/4001/p2p/12D3KooW… (a node's printed address)",
});

const HOSTS: Readonly<Record<AddressUse, readonly string[]>> = {
  listen: ["ip4", "ip6"],
  announce: ["ip4", "ip6", "dns", "dns4", "dns6"],
  bootstrap: ["ip4", "ip6", "dns", "dns4", "dns6"],
};

/**
 * Why `text` is not an address of the form `use` needs (a host, `/tcp/PORT`, `/ws` or `/wss`
 * after it, and for a bootstrap `/p2p/<peer id>`), or null when it is one. Listen addresses
 * take IP addresses only (a socket binds to an interface), announced and bootstrap ones DNS
 * names too; announced and bootstrap ports must be real (not 0).
 */
export function addressProblem(use: AddressUse, text: string): string | null {
  let parts: { name: string; value?: string }[];
  try {
    parts = multiaddr(text).getComponents();
  } catch (e) {
    return `not a multiaddr (${(e as Error).message.split("\n")[0]})`;
  }
  const [host, tcp, ...rest] = parts;
  if (host === undefined || !HOSTS[use].includes(host.name)) {
    return `it must start with /${HOSTS[use].join(", /")}`;
  }
  if (tcp?.name !== "tcp") return "the host must be followed by /tcp/PORT";
  if (use !== "listen" && Number(tcp.value) === 0) return "port 0 cannot be dialed";
  if (rest[0]?.name === "ws" || (use !== "listen" && rest[0]?.name === "wss")) rest.shift();
  const p2p = rest[0]?.name === "p2p" ? rest.shift() : undefined;
  if (rest.length > 0) return `unexpected /${rest[0].name}`;
  if (use === "listen" && p2p !== undefined) return "a listen address has no /p2p/ part";
  if (use === "bootstrap") {
    if (p2p?.value === undefined) return "it must end with /p2p/<peer id of that node>";
    try {
      peerIdFromString(p2p.value);
    } catch {
      return `bad peer id ${p2p.value.slice(0, 60)}`;
    }
  }
  return null;
}

/** The TCP port of a multiaddr, or null when it has none or is not one. */
export function tcpPort(text: string): number | null {
  try {
    const tcp = multiaddr(text).getComponents().find((c) => c.name === "tcp");
    return tcp?.value === undefined ? null : Number(tcp.value);
  } catch {
    return null;
  }
}

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
