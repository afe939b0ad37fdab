/**
 * The Deno side of test/browser/peer.spec.ts: a real local run — a validator and N Deno peers
 * as separate processes on 127.0.0.1 (src/cli/swarm.ts as a library) — that a Chromium tab
 * joins as one more peer.
 *
 * ```sh
 * deno run -A test/browser/run_fixture.ts [--peers 2] [--window-ms 12000] [--dir DIR]
 * ```
 *
 * Stdout, one JSON object per line: every role event as
 * `{"name": "validator" | "peer-0" | …, "e": RoleEvent}`, and once every role listens
 * `{"info": RunFixtureInfo}` (the run link's parts).
 * Diagnostics (role stderr and log lines) go to stderr. It runs until stdin closes (the spec
 * went away) or SIGTERM/SIGINT, then stops every role.
 *
 * @module
 */

import { parseFlags } from "../../src/cli/cli.ts";
import { Swarm } from "../../src/cli/swarm.ts";
import { runContext } from "../../src/protocol/run_context.ts";
import type { RoleEvent } from "../../src/roles/role_events.ts";

/** What the fixture prints first. */
export interface RunFixtureInfo {
  /** The genesis JSON text. */
  genesis: string;
  /** Its run id, hex. */
  runId: string;
  /** The validator's WebSocket multiaddr (with /p2p/): the browser's bootstrap. */
  bootstrap: string;
  /** SS58 addresses of the Deno peers. */
  peers: string[];
  /** The run's window length (ms), H and batch × context (tokens per inner step). */
  windowMs: number;
  H: number;
  tokensPerStep: number;
}

function log(line: string): void {
  console.error(`run_fixture: ${line}`);
}

async function main(args: string[]): Promise<void> {
  const a = parseFlags({
    args,
    options: {
      peers: { type: "string", default: "2" },
      "window-ms": { type: "string", default: "12000" },
      dir: { type: "string" },
    },
    strict: true,
  }, "usage: run_fixture.ts [--peers 2] [--window-ms 12000] [--dir DIR]").values;
  const dir = a.dir ?? await Deno.makeTempDir({ prefix: "webloco-browser-run-" });
  const out = (o: unknown) => console.log(JSON.stringify(o));
  const swarm = await Swarm.create({
    dir,
    windowMs: Number(a["window-ms"]),
    // Processes and the page start meanwhile; the tab joins whenever it is ready.
    startDelayMs: 8_000,
    backend: "cpu",
    genesis: { sparseloco: { H: 4 }, data: { batch: 2 }, checkpointInterval: 2 },
    onEvent: (name: string, e: RoleEvent) => {
      if (e.event === "log") log(`${name}: ${e.line}`);
      out({ name, e });
    },
    onStderr: (name, line) => log(`${name} ! ${line}`),
  });
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${why})`);
    await swarm.stop(5_000).catch((e) => log(`stop failed: ${e}`));
    if (a.dir === undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));

  const v = await swarm.startValidator();
  const ws = v.addresses.find((x) => x.includes("/ws"));
  if (ws === undefined) throw new Error(`the validator has no WebSocket address: ${v.addresses}`);
  const peers = await Promise.all(
    Array.from({ length: Number(a.peers) }, (_, i) => swarm.startPeer(i)),
  );
  const g = swarm.genesis;
  const info: RunFixtureInfo = {
    genesis: JSON.stringify(g),
    runId: runContext(g).runIdHex,
    bootstrap: ws,
    peers: peers.map((p) => p.address),
    windowMs: g.windowMs,
    H: g.sparseloco.H,
    tokensPerStep: g.data.batch * g.model.context,
  };
  out({ info });

  try {
    for await (const _ of Deno.stdin.readable) { /* discard */ }
  } catch { /* stdin not readable: rely on signals */ }
  await stop("stdin closed");
}

if (import.meta.main) {
  main(Deno.args).catch((err) => {
    console.error(`run_fixture: ${err instanceof Error ? err.stack : String(err)}`);
    Deno.exit(1);
  });
}
