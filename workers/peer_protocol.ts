/**
 * Messages between the volunteer page (web/peer_page.ts) and the peer worker
 * (workers/peer_worker.ts), and how the page reads a run from its link.
 *
 * A run link is `peer.html?genesis=<base64url of the genesis JSON>&bootstrap=<ws multiaddr>`
 * (bootstrap may repeat), optionally `&run=<run id hex>` (the page refuses a genesis whose id
 * differs: a link edited by hand or pasted from another run) and `&profile=<name>` (the
 * IndexedDB database, so two tabs of one browser can be two peers).
 *
 * @module
 */

import type { RoleEvent } from "../src/roles/role_events.ts";

/** Page → worker. */
export type PeerRequest =
  | {
    type: "start";
    /** The genesis JSON, as the link carried it. */
    genesis: string;
    /** The run id the link names (hex), checked against the genesis; null when it names none. */
    runId: string | null;
    /** WebSocket multiaddrs (with /p2p/) of nodes of the run. */
    bootstrap: string[];
    /** Absolute URL of the default corpus (the page's bundled asset). */
    corpusUrl: string;
    /** IndexedDB database name. */
    profile: string;
    /** Forces the CPU reference even with a hardware adapter. */
    cpu: boolean;
  }
  | { type: "stop" };

/** Which backend the worker trains on, and why. */
export interface BackendInfo {
  /** "webgpu" or "cpu". */
  kind: "webgpu" | "cpu";
  /** The adapter (or its absence), for the page. */
  label: string;
  /** Why the CPU reference was picked, when it was. */
  reason?: string;
}

/** Worker → page. */
export type PeerMessage =
  | { type: "backend"; backend: BackendInfo }
  | {
    type: "identity";
    /** The run id (hex) of the genesis, checked. */
    runId: string;
    /** SS58 address (credit accrues to it). */
    address: string;
    /** libp2p peer id. */
    peerId: string;
    /** Whether the key was created now (false: loaded from IndexedDB). */
    created: boolean;
  }
  | { type: "event"; event: RoleEvent }
  | { type: "error"; message: string }
  | { type: "stopped" };

/** What the page publishes for tests as `globalThis.__peer`. */
export interface PeerPageState {
  /** The run id from the genesis (hex), once read. */
  runId?: string;
  backend?: BackendInfo;
  address?: string;
  peerId?: string;
  /** Whether the key was created in this session. */
  keyCreated?: boolean;
  /** The last status row. */
  status?: Extract<RoleEvent, { event: "status" }>;
  /** Every applied, round and caught-up event, in order. */
  events: Exclude<RoleEvent, { event: "status" | "log" }>[];
  /** The last log lines. */
  logs: string[];
  /** The error shown, if any. */
  error?: string;
  /** Whether the worker said it stopped. */
  stopped: boolean;
}

declare global {
  /** The volunteer page's state, read by Playwright as `window.__peer`. */
  var __peer: PeerPageState;
}

/** A run link's fields. */
export interface RunLink {
  genesis: string;
  bootstrap: string[];
  runId: string | null;
  profile: string;
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
  };
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
