/**
 * Helpers for the net tests: nodes on loopback, bounded waits.
 *
 * @module
 */

import { createDenoNode, type DenoNodeOptions } from "./deno_node.ts";
import type { Verdict } from "./gossip.ts";
import type { WeblocoNode } from "./node.ts";
import { NetError, type NetErrorCode } from "./errors.ts";

/** A fixed run id for tests. */
export const TEST_RUN_ID = "1a2b3c4d" + "00".repeat(28);

/** Test validator: first byte 0xff → reject, 0xee → ignore, 0xdd → throw, else accept. */
export function testValidator(_topic: string, data: Uint8Array, _from: string): Verdict {
  if (data[0] === 0xff) return "reject";
  if (data[0] === 0xee) return "ignore";
  if (data[0] === 0xdd) throw new Error("validator exploded");
  return "accept";
}

/** Runs `fn`, failing if it takes longer than `ms`. */
export async function withTimeout<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every 25 ms until true; throws after `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Creates loopback nodes (TCP + WS), runs `fn`, and stops every node whatever happens. */
export async function withNodes(
  options: Partial<DenoNodeOptions>[],
  fn: (nodes: WeblocoNode[]) => Promise<void>,
): Promise<void> {
  const nodes: WeblocoNode[] = [];
  try {
    for (const o of options) {
      nodes.push(
        await createDenoNode({ runId: TEST_RUN_ID, validate: testValidator, ...o }),
      );
    }
    await fn(nodes);
  } finally {
    await Promise.allSettled(nodes.map((n) => n.stop()));
  }
}

/** The node's TCP address (with /p2p/). */
export function tcpAddr(node: WeblocoNode): string {
  const a = node.addresses().find((m) => m.includes("/tcp/") && !m.includes("/ws"));
  if (a === undefined) throw new Error("no tcp address");
  return a;
}

/** The node's WebSockets address (with /p2p/). */
export function wsAddr(node: WeblocoNode): string {
  const a = node.addresses().find((m) => m.includes("/ws"));
  if (a === undefined) throw new Error("no ws address");
  return a;
}

/** Test options for libp2p tests: no op/resource sanitizers (libp2p keeps timers briefly). */
export const LIBP2P_TEST = { sanitizeOps: false, sanitizeResources: false } as const;

/** Asserts that `p` rejects with a NetError of `code`; returns the error. */
export async function assertRejectsCode(
  p: Promise<unknown>,
  code: NetErrorCode,
  msg = "",
): Promise<NetError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof NetError && err.code === code) return err;
    throw new Error(
      `${msg ? msg + ": " : ""}expected NetError ${code}, got ${
        err instanceof NetError ? `NetError ${err.code}: ${err.message}` : String(err)
      }`,
    );
  }
  throw new Error(`${msg ? msg + ": " : ""}expected NetError ${code}, but it resolved`);
}
