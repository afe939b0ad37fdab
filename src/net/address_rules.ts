/**
 * Which multiaddrs webloco takes, for each use: one check for the addresses an operator types
 * (`--listen`, `--announce`, `--bootstrap`) and those a peer says it listens at (identify,
 * signed announcements) that go into the address book. Runtime-neutral (the browser node's
 * book uses it too).
 *
 * @module
 */

import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";

/**
 * The uses of an address: the three on a server's command line, and `peer`, where a peer said
 * it can be dialled (its `/p2p/`, if any, must be that peer's).
 */
export type AddressUse = "listen" | "announce" | "bootstrap" | "peer";

/** An example of each use's form, for error messages. */
export const ADDRESS_EXAMPLES: Readonly<Record<AddressUse, string>> = Object.freeze({
  listen: "/ip4/0.0.0.0/tcp/4001 (or /ip4/0.0.0.0/tcp/4002/ws for browsers)",
  announce: "/ip4/203.0.113.5/tcp/4001 or /dns4/node.example.org/tcp/4002/ws",
  bootstrap: "/ip4/203.0.113.5/tcp/4001/p2p/12D3KooW… (a node's printed address)",
  peer: "/ip4/203.0.113.5/tcp/4001 (where that peer listens)",
});

const IP_HOSTS = ["ip4", "ip6"];
const DIAL_HOSTS = ["ip4", "ip6", "dns", "dns4", "dns6"];

/** A checked address: without its `/p2p/` part, and the peer id that part named. */
export type CheckedAddress =
  | { ok: true; address: string; peerId: string | undefined }
  | { ok: false; problem: string };

/**
 * Checks `text` for `use`: a host, `/tcp/PORT`, `/ws` (or `/wss` where it is dialled) after it,
 * then an optional `/p2p/<peer id>`, nothing else (no relay). Listen addresses take IP
 * addresses only (a socket binds to an interface) and no `/p2p/`; the others are dialled, so
 * they take DNS names too, a real port (not 0) and no unspecified host (0.0.0.0, ::: what a
 * node lists before its interfaces are expanded). A bootstrap address must name its peer; a
 * `peer` address may name only `peerId`.
 */
export function checkAddress(use: AddressUse, text: string, peerId?: string): CheckedAddress {
  const no = (problem: string): CheckedAddress => ({ ok: false, problem });
  let parts: { name: string; value?: string }[];
  try {
    parts = multiaddr(text).getComponents();
  } catch (e) {
    return no(`not a multiaddr (${(e as Error).message.split("\n")[0]})`);
  }
  const dialled = use !== "listen";
  const hosts = dialled ? DIAL_HOSTS : IP_HOSTS;
  const [host, tcp, ...rest] = parts;
  if (host === undefined || !hosts.includes(host.name)) {
    return no(`it must start with /${hosts.join(", /")}`);
  }
  if (dialled && (host.value === "0.0.0.0" || host.value === "::")) {
    return no(`${host.value} is not an address others can dial`);
  }
  if (tcp?.name !== "tcp") return no("the host must be followed by /tcp/PORT");
  if (dialled && Number(tcp.value) === 0) return no("port 0 cannot be dialed");
  const transport = rest[0]?.name === "ws" || (dialled && rest[0]?.name === "wss")
    ? [rest.shift()!]
    : [];
  const p2p = rest[0]?.name === "p2p" ? rest.shift() : undefined;
  if (rest.length > 0) return no(`unexpected /${rest[0].name}`);
  if (p2p !== undefined) {
    if (use === "listen") return no("a listen address has no /p2p/ part");
    try {
      peerIdFromString(p2p.value ?? "");
    } catch {
      return no(`bad peer id ${String(p2p.value).slice(0, 60)}`);
    }
    if (use === "peer" && p2p.value !== peerId) return no("it names another peer");
  } else if (use === "bootstrap") {
    return no("it must end with /p2p/<peer id of that node>");
  }
  const address = [host, tcp, ...transport].map((c) =>
    c.value === undefined ? `/${c.name}` : `/${c.name}/${c.value}`
  ).join("");
  return { ok: true, address, peerId: p2p?.value };
}

/** Why `text` is not an address of the form `use` needs ({@linkcode checkAddress}), or null. */
export function addressProblem(use: AddressUse, text: string): string | null {
  const r = checkAddress(use, text);
  return r.ok ? null : r.problem;
}

/**
 * `text` as an address where `peerId` can be dialled, without its `/p2p/` part, or null
 * ({@linkcode checkAddress} for `peer`).
 */
export function dialableAddress(peerId: string, text: string): string | null {
  const r = checkAddress("peer", text, peerId);
  return r.ok ? r.address : null;
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
