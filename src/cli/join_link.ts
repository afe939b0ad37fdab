/**
 * The one line that joins a browser tab to a run: the volunteer page's link
 * (src/net/run_link.ts: the genesis, its run id and a node's WebSocket addresses, which a
 * browser can dial). `deno task swarm` prints it for the page it serves; a validator started
 * by hand prints it for the page `vite preview` serves, so both hand out the same format.
 *
 * @module
 */

import type { Genesis } from "../protocol/genesis.ts";
import { runIdOf } from "../protocol/genesis.ts";
import { runLink } from "../net/run_link.ts";
import { hex } from "../util/hex.ts";

/**
 * The page `node_modules/.bin/vite preview` serves after `vite build` (its port is fixed in
 * vite.config.ts): what a validator started by hand links to, as it serves no page itself.
 */
export const PREVIEW_PAGE = "http://127.0.0.1:4179/peer.html";

/** "join from a browser: open <link>", or why there is none (no WebSocket address). */
export function joinLine(page: string, genesis: Genesis, addresses: readonly string[]): string {
  const ws = addresses.filter((a) => /\/wss?(\/|$)/.test(a));
  if (ws.length === 0) {
    return "no browser can join: this node listens on no WebSocket address (--listen …/tcp/PORT/ws)";
  }
  const link = runLink(page, JSON.stringify(genesis), ws, hex(runIdOf(genesis)));
  return `join from a browser: open ${link}`;
}
