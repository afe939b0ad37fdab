/**
 * `deno task swarm`: a local run — a validator and N peers as separate processes on
 * 127.0.0.1 — with one combined live view. Ctrl-C stops them all cleanly.
 *
 *   deno task swarm [--peers 3] [--window-ms 20000] [--H 30] [--batch 4] [--rounds N]
 *                   [--backend auto|dawn|wgpu|cpu] [--dir runs/swarm] [--page-port 0]
 *
 * It also serves the built volunteer page (`dist/`, from `vite build`) on 127.0.0.1 (any free
 * port unless `--page-port`) and prints the URL that joins a browser tab to this run.
 *
 * With `--rounds N` it stops after the validator's N-th round record and prints a summary
 * (per-round compute and idle time, bytes, whether every peer held the validator's model hash).
 *
 * @module
 */

import { BACKEND_USAGE, parseBackend } from "./backend.ts";
import { numberFlag, parseFlags, runCli } from "./cli.ts";
import { LiveView } from "./live_view.ts";
import type { RoleEvent, RoundEvent } from "../roles/role_events.ts";
import { Swarm } from "./swarm.ts";
import { joinLine } from "./join_link.ts";
import { type PageServer, servePages } from "./page_server.ts";

/** Where `vite build` puts the pages (vite.config.ts). */
const PAGES_DIR = new URL("../../dist", import.meta.url).pathname;

const USAGE = "usage: deno task swarm [--peers 3] [--window-ms 20000] [--H 30] [--batch 4] " +
  `[--rounds N] [${BACKEND_USAGE}] [--dir runs/swarm] [--page-port 0]`;

function int(name: string, v: string | undefined, fallback: number, min: number): number {
  return numberFlag(name, v, fallback, { integer: true, min });
}

async function main(): Promise<void> {
  const a = parseFlags({
    args: Deno.args,
    options: {
      peers: { type: "string" },
      "window-ms": { type: "string" },
      H: { type: "string" },
      batch: { type: "string" },
      rounds: { type: "string" },
      backend: { type: "string", default: "auto" },
      dir: { type: "string", default: "runs/swarm" },
      "page-port": { type: "string" },
    },
    strict: true,
  }, USAGE).values;
  const peers = int("peers", a.peers, 3, 1);
  const rounds = int("rounds", a.rounds, 0, 0);
  const pagePort = int("page-port", a["page-port"], 0, 0);
  const view = new LiveView({ tty: Deno.stdout.isTerminal() });
  const hashes = new Map<number, Map<string, string>>();
  const roundEvents: RoundEvent[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  let records = 0;
  // The summary waits until every peer has applied the last record (at most one more window).
  let last = -1;
  const allApplied = () =>
    [...swarm.roles.keys()].every((n) => n === "validator" || hashes.get(last)?.has(n));
  const onEvent = (name: string, e: RoleEvent) => {
    view.add(name, e);
    if (e.event === "applied") {
      if (!hashes.has(e.window)) hashes.set(e.window, new Map());
      hashes.get(e.window)!.set(name, e.modelHash);
      if (e.role === "validator" && ++records === rounds) {
        last = e.window;
        setTimeout(done, swarm.genesis.windowMs);
      }
      if (last >= 0 && allApplied()) done();
    }
    if (e.event === "round") roundEvents.push(e);
  };
  const swarm = await Swarm.create({
    dir: a.dir!,
    windowMs: int("window-ms", a["window-ms"], 20_000, 2_000),
    startDelayMs: 15_000,
    backend: parseBackend(a.backend!),
    // Span mode and the burden of proof with sequential admission: no key's update is
    // aggregated before it is shown to train on its own data (README "Trust": with these, at
    // H 30 / batch 4 honest keys were in every record from record 3–5, other-data in none).
    genesis: {
      sparseloco: { H: int("H", a.H, 30, 1) },
      data: { batch: int("batch", a.batch, 4, 1), span: 512 },
    },
    gauntlet: { assignPassZ: 1.645, assignSprtMu: 1.5, assignSprtAlpha: 0.01 },
    onEvent,
    onStderr: (name, line) => view.line(`${name} ! ${line}`),
  });
  view.line(
    `webloco swarm · ${peers} peers · run ${a.dir}/genesis.json · window ${
      swarm.genesis.windowMs / 1000
    } s · H ${swarm.genesis.sparseloco.H}`,
  );
  const stop = () => done();
  let pages: PageServer | null = null;
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    const v = await swarm.startValidator();
    await Promise.all(Array.from({ length: peers }, (_, i) => swarm.startPeer(i)));
    view.line(
      `all roles started; window 0 opens at ${new Date(swarm.genesis.genesisTime).toISOString()}`,
    );
    try {
      pages = await servePages(PAGES_DIR, pagePort);
      view.line(joinLine(`${pages.origin}/peer.html`, swarm.genesis, v.addresses));
    } catch (e) {
      // The run does not need the page; say how to get it.
      view.line(`no volunteer page: ${(e as Error).message}`);
    }
    await Promise.race([finished, ...[...swarm.roles.values()].map((r) => r.exited)]);
  } finally {
    view.line("stopping every role…");
    await pages?.stop();
    await swarm.stop();
    view.close();
  }
  const upTo = (w: number) => last < 0 || w <= last;
  summarize(
    new Map([...hashes].filter(([w]) => upTo(w))),
    roundEvents.filter((r) => upTo(r.window)),
    (line) => console.log(line),
  );
}

/** Prints whether every role held the validator's hash after each round, and the round costs. */
function summarize(
  hashes: Map<number, Map<string, string>>,
  rounds: RoundEvent[],
  print: (line: string) => void,
): void {
  let agreed = 0, disagreed = 0;
  for (const [, byRole] of hashes) {
    const v = byRole.get("validator");
    for (const [name, h] of byRole) {
      if (name === "validator" || v === undefined) continue;
      if (h === v) agreed++;
      else disagreed++;
    }
  }
  print(`model hashes: ${agreed} peer-rounds equal to the validator's, ${disagreed} different`);
  if (rounds.length === 0) return;
  const sum = (f: (r: RoundEvent) => number) => rounds.reduce((s, r) => s + f(r), 0);
  const compute = sum((r) => r.computeMs), idle = sum((r) => r.idleMs);
  print(
    `per peer-round: compute ${(compute / rounds.length / 1000).toFixed(1)} s, idle ${
      (idle / rounds.length / 1000).toFixed(1)
    } s ` +
      `(${
        (100 * idle / (compute + idle)).toFixed(1)
      }%; a peer done with H steps waits for the window to close), up ${
        Math.round(sum((r) => r.bytesUp) / rounds.length)
      } B, ` +
      `down ${Math.round(sum((r) => r.bytesDown) / rounds.length)} B`,
  );
}

if (import.meta.main) await runCli(main);
