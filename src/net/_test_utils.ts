/**
 * Helpers for the net tests: nodes on loopback, bounded waits, raw protocol exchanges and
 * misbehaving servers.
 *
 * @module
 */

import type { Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { createDenoNode, type DenoNodeOptions } from "./deno_node.ts";
import type { Verdict } from "./gossip.ts";
import type { WeblocoNode } from "./node.ts";
import { NetError, type NetErrorCode } from "./errors.ts";
import { deadline, StreamReader } from "./stream_io.ts";

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

/**
 * Registers a libp2p test: loopback nodes with `options` (see {@linkcode withNodes}), `fn`
 * on them, all within `timeoutMs`.
 */
export function nodeTest(
  name: string,
  options: Partial<DenoNodeOptions>[],
  fn: (nodes: WeblocoNode[]) => Promise<void>,
  timeoutMs = 30_000,
): void {
  Deno.test({
    name,
    ...LIBP2P_TEST,
    fn: () => withTimeout(timeoutMs, "test", () => withNodes(options, fn)),
  });
}

/**
 * Sends raw bytes on a `protocol` stream from `from` to `to` and reads the answer (status,
 * reason) or the reset; closes its side unless `close` is false.
 */
export async function rawExchange(
  from: WeblocoNode,
  to: WeblocoNode,
  protocol: string,
  bytes: Uint8Array,
  opts: { close?: boolean; waitMs?: number } = {},
): Promise<{ status: number | null; text: string; error?: string }> {
  const stream = await from.libp2p.dialProtocol(multiaddr(tcpAddr(to)), protocol);
  const reader = new StreamReader(stream, { maxBuffered: 1 << 20 });
  const dl = deadline(opts.waitMs ?? 5_000, "raw exchange");
  try {
    if (bytes.length > 0) stream.send(bytes);
    if (opts.close !== false) await stream.close();
    const status = await reader.readByteOrEnd(dl.signal);
    if (status === null) return { status: null, text: "" };
    const len = await reader.readUvarint(7, dl.signal);
    const text = new TextDecoder().decode(await reader.readExactly(Math.min(len, 1024), dl.signal));
    return { status, text };
  } catch (err) {
    // libp2p may reject with the close Event: its error says more.
    const e = err instanceof Event ? (err as Event & { error?: unknown }).error ?? err.type : err;
    return { status: null, text: "", error: e instanceof Error ? e.message : String(e) };
  } finally {
    dl.clear();
    reader.dispose();
    stream.abort(new Error("done"));
  }
}

/** Replaces a node's `protocol` handler with `handler` (a misbehaving server). */
export async function mountLiar(
  node: WeblocoNode,
  protocol: string,
  handler: (stream: Stream) => Promise<void>,
): Promise<void> {
  await node.libp2p.unhandle(protocol);
  await node.libp2p.handle(protocol, async (stream) => {
    try {
      await handler(stream);
    } catch {
      stream.abort(new Error("liar failed"));
    }
  });
}

/** Reads the first `n` bytes (the request) off a stream: the liar's side. */
export async function readRequestBytes(stream: Stream, n: number): Promise<Uint8Array> {
  const reader = new StreamReader(stream, { maxBuffered: 1024 });
  const dl = deadline(5_000, "read request");
  try {
    return await reader.readExactly(n, dl.signal);
  } finally {
    dl.clear();
    reader.dispose();
  }
}
