/**
 * A standalone webloco node, for the cross-process test and for trying the network by hand.
 *
 * ```sh
 * deno run -A src/net/peer_main.ts [--run-id HEX] [--listen MA]… [--bootstrap MA]…
 *   [--payload-bytes N]
 * ```
 *
 * It prints one JSON line, `{"peerId", "addresses", "payload"}` (the hex sha256 of a random
 * payload of `--payload-bytes` it serves, default 100000), then runs until stdin closes or it
 * gets SIGTERM/SIGINT, and stops the node before exiting. On the run's updates topic it
 * answers, on the rounds topic: `hello…` with `echo:hello…`, and `fetch:<hash>` by fetching
 * that payload from the sender and announcing `fetched:<hash>:<length>`. Its validator rejects
 * messages starting with 0xff.
 *
 * @module
 */

import { createDenoNode } from "./deno_node.ts";
import type { WeblocoNode } from "./node.ts";

/** Parsed command line of {@linkcode main}. */
export interface PeerArgs {
  /** Run id (hex). */
  runId: string;
  /** Listen multiaddrs. */
  listen: string[];
  /** Bootstrap multiaddrs. */
  bootstrap: string[];
  /** Size of the served random payload. */
  payloadBytes: number;
}

/** Parses the flags of {@linkcode main}; throws on anything unknown. */
export function parsePeerArgs(args: readonly string[]): PeerArgs {
  const out: PeerArgs = {
    runId: "1a2b3c4d" + "00".repeat(28),
    listen: [],
    bootstrap: [],
    payloadBytes: 100_000,
  };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const value = args[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    i++;
    if (flag === "--run-id") out.runId = value;
    else if (flag === "--listen") out.listen.push(value);
    else if (flag === "--bootstrap") out.bootstrap.push(value);
    else if (flag === "--payload-bytes") {
      out.payloadBytes = Number(value);
      if (!Number.isSafeInteger(out.payloadBytes) || out.payloadBytes < 0) {
        throw new Error("--payload-bytes must be a non-negative integer");
      }
    } else throw new Error(`unknown flag ${flag}`);
  }
  return out;
}

const text = new TextEncoder();
const untext = new TextDecoder();

/** Runs the node until stdin closes or a signal arrives. */
export async function main(args: readonly string[]): Promise<void> {
  const opts = parsePeerArgs(args);
  const node: WeblocoNode = await createDenoNode({
    runId: opts.runId,
    listen: opts.listen.length > 0 ? opts.listen : undefined,
    bootstrap: opts.bootstrap,
    validate: (_topic, data) => data[0] === 0xff ? "reject" : "accept",
    log: (line) => console.error(line),
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await node.stop().catch((err) => console.error(`stop failed: ${err}`));
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => void stop());
  Deno.addSignalListener("SIGINT", () => void stop());

  const payload = crypto.getRandomValues(new Uint8Array(Math.min(opts.payloadBytes, 65536)));
  const full = new Uint8Array(opts.payloadBytes);
  for (let off = 0; off < full.length; off += payload.length) {
    full.set(payload.subarray(0, Math.min(payload.length, full.length - off)), off);
  }
  const hash = await node.store.add(full, { pin: true });

  node.subscribe(node.topics.rounds, () => {});
  node.subscribe(node.topics.updates, async (m) => {
    const msg = untext.decode(m.data);
    if (msg.startsWith("hello")) {
      await node.publish(node.topics.rounds, text.encode(`echo:${msg}`));
    } else if (msg.startsWith("fetch:")) {
      const want = msg.slice(6);
      try {
        const bytes = await node.fetch(want, [m.from], { timeoutMs: 10_000 });
        await node.publish(node.topics.rounds, text.encode(`fetched:${want}:${bytes.length}`));
      } catch (err) {
        await node.publish(node.topics.rounds, text.encode(`failed:${want}:${err}`));
      }
    }
  });

  console.log(JSON.stringify({ peerId: node.peerId, addresses: node.addresses(), payload: hash }));

  // Run until stdin closes (the parent went away) or a signal.
  try {
    for await (const _ of Deno.stdin.readable) { /* discard */ }
  } catch { /* stdin not readable: rely on signals */ }
  await stop();
}

if (import.meta.main) {
  main(Deno.args).catch((err) => {
    console.error(err instanceof Error ? err.message : String(err));
    Deno.exit(1);
  });
}
