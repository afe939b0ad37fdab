/**
 * Messages between the volunteer page (web/peer_page.ts) and the peer worker
 * (workers/peer_worker.ts), and the page's state for tests. The run link they start from is
 * src/net/run_link.ts.
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
