/**
 * The link that joins a run from a browser, printed by `deno task swarm` and read by the
 * volunteer page (web/peer.html):
 * `peer.html?genesis=<base64url of the genesis JSON>&run=<run id hex>&bootstrap=<ws multiaddr>`
 * (bootstrap may repeat). The page refuses a genesis whose id is not `run` (a link edited by
 * hand or pasted from another run). `&profile=<name>` picks the IndexedDB database, so two
 * tabs of one browser can be two peers; `&backend=cpu` forces the CPU reference.
 * Runtime-neutral.
 *
 * @module
 */

/** A run link's fields. */
export interface RunLink {
  /** The genesis JSON text. */
  genesis: string;
  /** WebSocket multiaddrs (with /p2p/) of nodes of the run. */
  bootstrap: string[];
  /** The run id the link names (hex), or null. */
  runId: string | null;
  /** IndexedDB database name (default "webloco"). */
  profile: string;
  /** Whether the link asks for the CPU reference. */
  cpu: boolean;
}

/** The run of a page's query string; throws a one-line error when the link is incomplete. */
export function readRunLink(query: URLSearchParams): RunLink {
  const g = query.get("genesis");
  if (g === null || g === "") {
    throw new Error("this link names no run: it needs ?genesis=… (printed by `deno task swarm`)");
  }
  const bootstrap = query.getAll("bootstrap").filter((b) => b !== "");
  if (bootstrap.length === 0) {
    throw new Error("this link names no bootstrap node: it needs &bootstrap=/ip4/…/ws/p2p/…");
  }
  return {
    genesis: fromBase64Url(g),
    bootstrap,
    runId: query.get("run"),
    profile: query.get("profile") || "webloco",
    cpu: query.get("backend") === "cpu",
  };
}

/**
 * The link that joins a run from a browser: `page` (the built peer.html, e.g. served by
 * `vite preview`) with the genesis, the bootstrap WebSocket addresses and the run id.
 */
export function runLink(
  page: string,
  genesisJson: string,
  bootstrap: readonly string[],
  runId: string,
): string {
  const q = new URLSearchParams({ genesis: toBase64Url(genesisJson), run: runId });
  for (const b of bootstrap) q.append("bootstrap", b);
  return `${page}?${q}`;
}

/** `text` (UTF-8) as base64url without padding: what a run link carries. */
export function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(s: string): string {
  try {
    const bin = atob(s.replaceAll("-", "+").replaceAll("_", "/"));
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(bin, (c) => c.charCodeAt(0)),
    );
  } catch {
    throw new Error("the link's genesis is not base64url-encoded JSON");
  }
}
