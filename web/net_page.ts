/**
 * The network check in the browser: a libp2p node (WebSockets) dials the Deno peer named in
 * the query string, verifies every message of the run's rounds topic in its gossip validator
 * (sr25519 signature, run id, genesis validator), and on the first verified round record
 * fetches the contributor's payload by hash from that peer, recomputes its SHA-256 with
 * WebCrypto and decodes it as a SparseLoCo update.
 *
 * Query: `addr` (the peer's /ws multiaddr with /p2p/), `runId` (hex), `validator` (SS58), and
 * optionally `expectRejections` (wait until that many messages were rejected, default 0) and
 * `timeoutMs` (default 45000).
 *
 * Progress is on `window.__netState` while it runs; when done (success or not) it stops the
 * node and sets `window.__netResult` for Playwright (test/browser/net.spec.ts).
 *
 * @module
 */

import { multiaddr } from "@multiformats/multiaddr";
import { decodeUpdate } from "../src/codec/update_codec.ts";
import { identityReady } from "../src/identity/signer.ts";
import { browserMayDial, createBrowserNode } from "../src/net/browser_node.ts";
import type { GossipMessage, WeblocoNode } from "../src/net/node.ts";
import { sha256 } from "../src/util/hash.ts";
import { fromHex, hex } from "../src/util/hex.ts";
import { type RejectReason, verifyMessage, type VerifyOptions } from "../src/codec/messages.ts";

/** A message the gossip validator refused. */
export interface NetRejection {
  /** The topic it came on. */
  topic: string;
  /** Why (see `verifyMessage`). */
  reason: RejectReason;
  /** One line. */
  detail: string;
}

/** Progress while the page runs. */
export interface NetPageState {
  /** Round records verified by the gossip validator. */
  records: number;
  /** Messages the gossip validator rejected. */
  rejected: NetRejection[];
  /** Messages that reached the application handler but fail verification (must stay 0). */
  unverifiedDelivered: number;
  /** What the page is doing. */
  phase: string;
}

/** What the page publishes when done. */
export interface NetPageResult extends NetPageState {
  /** Everything checked out: a verified record, its payload fetched, hash and decoding ok. */
  ok: boolean;
  /** The fixture's peer id, as libp2p saw the records' author. */
  from?: string;
  /** SS58 sender of the first verified record. */
  sender?: string;
  /** Window of the first verified record. */
  window?: number;
  /** The contributor named in it. */
  contributor?: string;
  /** The payload hash the record names (hex). */
  recordPayloadHash?: string;
  /** SHA-256 of the fetched bytes, computed here with crypto.subtle (hex). */
  computedHash?: string;
  /** Whether the two are equal. */
  hashOk: boolean;
  /** Size of the fetched payload. */
  payloadBytes: number;
  /** Tensors in the decoded update (it must decode as an update of this run). */
  tensors?: number;
  /** Milliseconds from page start to the verified payload. */
  fetchedAfterMs?: number;
  /** Whether the node was stopped cleanly. */
  stopped: boolean;
  /** Set when something failed. */
  error?: string;
}

declare global {
  /** Progress, read by Playwright while the page runs. */
  var __netState: NetPageState | undefined;
  /** The outcome, read by Playwright as `window.__netResult`. */
  var __netResult: NetPageResult | undefined;
}

const started = performance.now();
const $ = (id: string) => document.getElementById(id)!;

function setStatus(text: string, isError = false): void {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

function logLine(text: string): void {
  const line = `${((performance.now() - started) / 1000).toFixed(2)} s  ${text}`;
  $("log").textContent += line + "\n";
  console.log(line);
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function param(q: URLSearchParams, name: string): string {
  const v = q.get(name);
  if (v === null || v === "") throw new Error(`missing query parameter ${name}`);
  return v;
}

const state: NetPageState = { records: 0, rejected: [], unverifiedDelivered: 0, phase: "start" };
globalThis.__netState = state;

function phase(text: string): void {
  state.phase = text;
  setStatus(text);
  logLine(text);
}

async function run(result: NetPageResult): Promise<void> {
  const q = new URLSearchParams(location.search);
  const addr = param(q, "addr");
  const runId = fromHex(param(q, "runId"));
  const validator = param(q, "validator");
  const expectRejections = Number(q.get("expectRejections") ?? "0");
  const timeoutMs = Number(q.get("timeoutMs") ?? "45000");
  $("peer").textContent = addr;
  // The page is served from 127.0.0.1 in tests; plain ws:// to loopback is development only.
  const allowLocal = ["localhost", "127.0.0.1", "[::1]"].includes(location.hostname);
  if (!browserMayDial(multiaddr(addr), allowLocal)) {
    throw new Error(`a browser node may not dial ${addr} from ${location.origin}`);
  }

  phase("initialising sr25519");
  await identityReady();
  const verifyOptions = (): VerifyOptions => ({ runId, validators: [validator], now: Date.now() });

  let done: (v: void) => void = () => {};
  let failed: (e: unknown) => void = () => {};
  const finished = new Promise<void>((res, rej) => {
    done = res;
    failed = rej;
  });
  let fetched = false;
  const maybeDone = () => {
    if (fetched && state.rejected.length >= expectRejections) done();
  };

  phase("starting the libp2p node");
  let node: WeblocoNode | undefined;
  try {
    node = await createBrowserNode({
      runId,
      allowLocal,
      validate: (topic, data) => {
        const r = verifyMessage(data, verifyOptions());
        if (r.ok) return "accept";
        state.rejected.push({ topic, reason: r.reason, detail: r.detail });
        logLine(`rejected a message on ${topic}: ${r.reason} (${r.detail})`);
        maybeDone();
        return "reject";
      },
      log: (line) => logLine(`node: ${line}`),
    });
    const self = node;
    let fetching = false;
    self.subscribe(self.topics.rounds, async (m: GossipMessage) => {
      // Delivered messages passed the validator; checking again proves nothing slipped past it.
      const r = verifyMessage(m.data, verifyOptions());
      if (!r.ok || r.message.body.kind !== "round-record") {
        state.unverifiedDelivered++;
        return;
      }
      const body = r.message.body;
      state.records++;
      if (fetching || body.contributors.length === 0) return;
      fetching = true;
      try {
        const c = body.contributors[0];
        result.from = m.from;
        result.sender = r.message.sender;
        result.window = body.window;
        result.contributor = c.address;
        result.recordPayloadHash = hex(c.payloadHash);
        phase(
          `verified round record of window ${body.window}; fetching ${result.recordPayloadHash}`,
        );
        const bytes = await self.fetch(c.payloadHash, [m.from, addr], { timeoutMs: 20_000 });
        result.payloadBytes = bytes.length;
        // Recomputed here, independently of the store's own check.
        result.computedHash = hex(await sha256(bytes));
        result.hashOk = result.computedHash === result.recordPayloadHash;
        result.tensors = decodeUpdate(bytes, { expected: { runId } }).tensors.length;
        result.fetchedAfterMs = Math.round(performance.now() - started);
        phase(
          `payload of ${bytes.length} bytes: sha256 ${result.hashOk ? "matches" : "DIFFERS"}, ` +
            `${result.tensors} tensors`,
        );
        fetched = true;
        maybeDone();
      } catch (e) {
        failed(e);
      }
    });

    phase(`dialing ${addr}`);
    await self.dial(addr, { signal: AbortSignal.timeout(15_000) });
    phase("connected; waiting for round records");

    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(
        () =>
          rej(
            new Error(
              `timed out after ${timeoutMs} ms (${state.phase}; ${state.records} records, ` +
                `${state.rejected.length} rejected, mesh: ${self.meshPeers(self.topics.rounds)})`,
            ),
          ),
        timeoutMs,
      );
    });
    await Promise.race([finished, timeout]).finally(() => clearTimeout(timer));
  } finally {
    if (node !== undefined) {
      phase("stopping the node");
      await node.stop();
      result.stopped = true;
    }
  }
}

async function main(): Promise<void> {
  const result: NetPageResult = {
    ...state,
    ok: false,
    hashOk: false,
    payloadBytes: 0,
    stopped: false,
  };
  try {
    await run(result);
    result.ok = result.hashOk && result.tensors !== undefined && state.records > 0 &&
      state.unverifiedDelivered === 0;
    setStatus(result.ok ? "done: ok" : "done: FAILED", !result.ok);
  } catch (e) {
    result.error = errorText(e);
    setStatus(`failed: ${result.error}`, true);
    logLine(`failed: ${result.error}`);
  }
  globalThis.__netResult = { ...result, ...state, rejected: [...state.rejected] };
}

main();
