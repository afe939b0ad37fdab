/**
 * The webloco node in a browser (page or worker): dials out over WebSockets (a browser cannot
 * listen; WebRTC through a relay comes later), with the same services as under Deno:
 * Noise, yamux, identify, ping, gossipsub and the payload protocol. It serves payloads from its
 * store to peers over the connections it opened.
 *
 * libp2p's browser defaults refuse plain `ws://` and private addresses; `allowLocal` lifts
 * that for development (default: on when the page itself is served from localhost).
 *
 * @module
 */

import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import type { Multiaddr } from "@multiformats/multiaddr";
import { webSockets } from "@libp2p/websockets";
import { createLibp2p, type Libp2pOptions } from "libp2p";
import {
  weblocoLibp2pOptions,
  WeblocoNode,
  type WeblocoNodeOptions,
  type WeblocoServices,
} from "./node.ts";

/** Options of {@linkcode createBrowserNode}. */
export interface BrowserNodeOptions extends WeblocoNodeOptions {
  /**
   * Allow dialing plain `ws://` and loopback/private addresses (development). Default: true
   * when `location.hostname` is localhost, 127.0.0.1 or [::1], else false (only `wss://` to
   * public addresses).
   */
  allowLocal?: boolean;
}

type MuxerFactory = NonNullable<Libp2pOptions["streamMuxers"]>[number];
type EncrypterFactory = NonNullable<Libp2pOptions["connectionEncrypters"]>[number];

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

function pageIsLocal(): boolean {
  const host = (globalThis as { location?: { hostname?: string } }).location?.hostname;
  return host !== undefined && LOCAL_HOSTS.has(host);
}

/** Whether an IP or DNS name is loopback, private or link-local. */
export function isLocalHost(kind: string, host: string): boolean {
  if (kind === "dns" || kind === "dns4" || kind === "dns6" || kind === "dnsaddr") {
    return host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local");
  }
  if (kind === "ip4") {
    const p = host.split(".").map(Number);
    if (p.length !== 4 || p.some((x) => !(x >= 0 && x <= 255))) return false;
    return p[0] === 127 || p[0] === 10 || p[0] === 0 ||
      (p[0] === 172 && p[1] >= 16 && p[1] <= 31) ||
      (p[0] === 192 && p[1] === 168) || (p[0] === 169 && p[1] === 254) ||
      (p[0] === 100 && p[1] >= 64 && p[1] <= 127);
  }
  if (kind === "ip6") {
    const h = host.toLowerCase();
    return h === "::1" || h === "::" || h.startsWith("fc") || h.startsWith("fd") ||
      h.startsWith("fe80");
  }
  return false;
}

/**
 * Whether a browser node may dial `ma`: only WebSockets (`/ws` or `/wss`, or `/tls/ws`); plain
 * ws and local hosts only when `allowLocal`.
 */
export function browserMayDial(ma: Multiaddr, allowLocal: boolean): boolean {
  const parts = ma.getComponents();
  const names = parts.map((c) => c.name);
  const secure = names.includes("wss") || (names.includes("tls") && names.includes("ws"));
  if (!secure && !names.includes("ws")) return false;
  if (names.includes("p2p-circuit")) return false;
  const host = parts.find((c) => ["ip4", "ip6", "dns", "dns4", "dns6", "dnsaddr"].includes(c.name));
  if (host === undefined) return false;
  const local = isLocalHost(host.name, host.value ?? "");
  if (allowLocal) return true;
  return secure && !local;
}

/**
 * Creates and starts a browser webloco node and dials `bootstrap` (WebSockets multiaddrs of
 * Deno nodes, with /p2p/). Stop it with `node.stop()`.
 */
export async function createBrowserNode(options: BrowserNodeOptions): Promise<WeblocoNode> {
  const allowLocal = options.allowLocal ?? pageIsLocal();
  const parts = weblocoLibp2pOptions(options);
  const libp2p = await createLibp2p<WeblocoServices>({
    ...parts.libp2p,
    addresses: { listen: [] },
    transports: [webSockets()],
    connectionEncrypters: [noise() as unknown as EncrypterFactory],
    streamMuxers: [yamux() as unknown as MuxerFactory],
    connectionGater: {
      denyDialMultiaddr: (ma: Multiaddr) => !browserMayDial(ma, allowLocal),
    },
  });
  return WeblocoNode.start(libp2p, parts, options);
}

export { WeblocoNode };
