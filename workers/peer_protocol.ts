/**
 * Messages between the volunteer page (web/peer_page.ts) and the peer worker
 * (workers/peer_worker.ts), and the page's state for tests. The run link they start from is
 * src/net/run_link.ts.
 *
 * @module
 */

import type { RoleEvent } from "../src/roles/role_events.ts";
import type { Share } from "./share_trainer.ts";

/** A wallet session as kept in IndexedDB and handed to the worker. */
export interface WalletSession {
  version: 1;
  /** The run id (hex) the delegation is for. */
  runId: string;
  /** The wallet's SS58 address (credit accrues to it). */
  wallet: string;
  /** Its extension (e.g. "polkadot-js"). */
  source: string;
  /** The session key, in the key file format of `deno task keygen`. */
  session: { version: 1; type: "sr25519"; address: string; mnemonic: string };
  /** The encoded delegation, hex. */
  delegation: string;
  /** When it ends (ms since the epoch). */
  validUntil: number;
}

/** Where a run's wallet session is kept in the profile's `identity/` store. */
export function walletFile(runIdHex: string): string {
  return `wallet-${runIdHex.slice(0, 16)}.json`;
}

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
    /**
     * Sign as the session key of the wallet delegation kept in the profile (web/wallet.ts)
     * rather than as the browser's own key.
     */
    wallet: boolean;
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
    /** SS58 address of the signing key (the messages' sender). */
    address: string;
    /** The wallet the key speaks for (credit accrues to it), when delegated. */
    wallet?: string;
    /** libp2p peer id. */
    peerId: string;
    /** Whether the key was created now (false: loaded from IndexedDB). */
    created: boolean;
  }
  | { type: "event"; event: RoleEvent }
  | { type: "share"; share: Share }
  | { type: "error"; message: string }
  | { type: "stopped" };

/** What the page publishes for tests as `globalThis.__peer`. */
export interface PeerPageState {
  /** The run id from the genesis (hex), once read. */
  runId?: string;
  backend?: BackendInfo;
  address?: string;
  /** The connected wallet's address, once connected. */
  wallet?: string;
  peerId?: string;
  /** Whether the key was created in this session. */
  keyCreated?: boolean;
  /** The tab's share of a window (steps from its measured speed), last computed. */
  share?: Share;
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
