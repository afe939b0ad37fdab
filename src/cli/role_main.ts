/**
 * `deno task peer` and `deno task validator`: join a run as a training peer or as its
 * validator.
 *
 *   deno task peer      --genesis FILE --key FILE --data-dir DIR [--bootstrap MA]…
 *                       [--listen MA… | --listen none] [--announce MA]… [--bootstrap-timeout S]
 *                       [--metrics [HOST:]PORT]
 *                       [--backend auto|dawn|wgpu|cpu] [--json]
 *   deno task validator (the same flags)
 *
 * A live view shows window, phase, inner step, loss, validation loss, bytes and contributors;
 * `--json` prints every event as one JSON line instead (the swarm reads those). Both first
 * print the node's dialable addresses (`--announce` replaces the listen addresses there: a
 * public IP or DNS name in front of a NAT or a port forward; `--listen none`: no listening port
 * at all, the node takes part through the connections it dials). A peer whose bootstrap nodes
 * cannot be reached within `--bootstrap-timeout` seconds, or belong to another run, stops with
 * one line that says so. SIGINT/SIGTERM stop the role cleanly; its state is in the data
 * directory, and the next start resumes from it.
 *
 * @module
 */

import { IdentityError } from "../identity/errors.ts";
import { readKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";
import {
  ADDRESS_EXAMPLES,
  addressProblem,
  type AddressUse,
  tcpPort,
} from "../net/address_rules.ts";
import { createDenoNode } from "../net/deno_node.ts";
import { NetError } from "../net/errors.ts";
import type { WeblocoNode } from "../net/node.ts";
import { decodeMessage } from "../codec/messages.ts";
import { hex } from "../util/hex.ts";
import { type RunContext, runContext } from "../protocol/run_context.ts";
import type { RoleEvent } from "../roles/role_events.ts";
import { type NodeFactory, startRole } from "../roles/start_role.ts";
import { WorkerTrainer } from "../../workers/worker_trainer.ts";
import { WorkerProbe } from "../../workers/probe_client.ts";
import { type Backend, BACKEND_USAGE, openBackend, parseBackend } from "./backend.ts";
import { numberFlag, parseFlags, runCli, UsageError } from "./cli.ts";
import { FileStore } from "./file_store.ts";
import { readGenesisFile } from "./genesis_file.ts";
import { requireRoleFlags, roleFlags } from "./role_flags.ts";
import { prepareGenesisContent } from "./genesis_file_content.ts";
import { libp2pKeyFile } from "./libp2p_key.ts";
import { LiveView } from "./live_view.ts";
import { type MetricsAddress, parseMetricsFlag, RoleMetrics, serveMetrics } from "./metrics.ts";
import { loadRunData } from "./run_data.ts";
import { joinLine, PREVIEW_PAGE } from "./join_link.ts";
import {
  checkBufferLimits,
  checkHostMemory,
  describeMemory,
  memoryNeeds,
} from "../model/memory.ts";

const USAGE = "usage: deno task peer|validator --genesis FILE --key FILE --data-dir DIR " +
  "[--bootstrap MA]… [--listen MA…|none] [--announce MA]… [--bootstrap-timeout S] " +
  `[--metrics [HOST:]PORT] [${BACKEND_USAGE}] [--recompute] [--json]`;

/** How long a peer waits for one of its bootstrap nodes by default (s). */
export const DEFAULT_BOOTSTRAP_TIMEOUT_S = 30;

/** Parsed command line. */
export interface RoleArgs {
  role: "peer" | "validator";
  genesis: string;
  key: string;
  dataDir: string;
  bootstrap: string[];
  /** Listen addresses; empty: the default (loopback) ones, unless {@linkcode dialOnly}. */
  listen: string[];
  /** `--listen none`: no listening port; the node only dials out. */
  dialOnly: boolean;
  announce: string[];
  /** How long to wait for a bootstrap node before giving up (ms). */
  bootstrapTimeoutMs: number;
  /** Where to serve Prometheus metrics, null: nowhere. */
  metrics: MetricsAddress | null;
  backend: Backend;
  json: boolean;
  /** A peer's activation recompute (`--recompute`): memory, not results. */
  recompute: boolean;
}

/** Parses `args` (the role first); throws {@linkcode UsageError}. */
export function parseRoleArgs(args: readonly string[]): RoleArgs {
  const parsed = parseFlags({
    args: [...args],
    options: {
      ...roleFlags(),
      announce: { type: "string", multiple: true, default: [] },
      "bootstrap-timeout": { type: "string" },
      metrics: { type: "string" },
      backend: { type: "string", default: "auto" },
      json: { type: "boolean", default: false },
    },
    allowPositionals: true,
    strict: true,
  }, USAGE);
  const [role, ...rest] = parsed.positionals;
  if (role !== "peer" && role !== "validator") {
    throw new UsageError(`the role must be peer or validator (${USAGE})`);
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}" (${USAGE})`);
  const v = parsed.values;
  requireRoleFlags(v, USAGE);
  const dialOnly = v.listen!.includes("none");
  if (dialOnly && v.listen!.length > 1) {
    throw new UsageError("--listen none means no listening port: give it alone");
  }
  if (dialOnly && v.announce!.length > 0) {
    throw new UsageError("--announce needs a listening port, and --listen none has none");
  }
  return {
    role,
    genesis: v.genesis!,
    key: v.key!,
    dataDir: v["data-dir"]!,
    bootstrap: checkAddresses("bootstrap", v.bootstrap!),
    listen: dialOnly ? [] : checkAddresses("listen", v.listen!),
    dialOnly,
    announce: checkAddresses("announce", v.announce!),
    bootstrapTimeoutMs: 1000 * numberFlag(
      "bootstrap-timeout",
      v["bootstrap-timeout"],
      DEFAULT_BOOTSTRAP_TIMEOUT_S,
      { integer: false },
    ),
    metrics: v.metrics === undefined ? null : parseMetricsFlag(v.metrics),
    backend: parseBackend(v.backend!),
    json: v.json!,
    recompute: v.recompute!,
  };
}

/**
 * `texts` when each is an address of the form `--<use>` takes; otherwise throws a
 * {@linkcode UsageError} that names the flag, the form expected and what was wrong.
 */
export function checkAddresses(use: AddressUse, texts: readonly string[]): string[] {
  for (const t of texts) {
    const why = addressProblem(use, t);
    if (why !== null) {
      throw new UsageError(
        `--${use}: expected a multiaddr like ${ADDRESS_EXAMPLES[use]}, got "${t}" (${why})`,
      );
    }
  }
  return [...texts];
}

/** How long a connected node may take to show it is in the run (its topic subscriptions). */
const SUBSCRIBE_MS = 10_000;

/**
 * Waits until `node` is connected to one of the `bootstrap` nodes and that node is in this
 * run (it subscribes to the run's topics, whose names carry the run id); returns the peer ids
 * of those found. Throws a {@linkcode UsageError} when every node reached shows no topic of
 * this run within a few seconds (another genesis: its records, when it has any, name the
 * run), or when none was reached within `timeoutMs`, naming the addresses and their ports.
 */
export async function awaitBootstrap(
  node: WeblocoNode,
  ctx: RunContext,
  bootstrap: readonly string[],
  timeoutMs: number,
): Promise<string[]> {
  const byPeer = new Map(bootstrap.map((a) => [a.slice(a.lastIndexOf("/p2p/") + 5), a]));
  const since = new Map<string, number>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = Date.now();
    const peers = new Set(node.peers());
    const connected = [...byPeer.keys()].filter((id) => peers.has(id));
    for (const id of connected) if (!since.has(id)) since.set(id, now);
    const topics = Object.values(node.topics);
    const inRun = connected.filter((id) => topics.some((t) => node.topicPeers(t).includes(id)));
    if (inRun.length > 0) return inRun;
    const silent = connected.filter((id) => now - since.get(id)! > SUBSCRIBE_MS);
    if (silent.length > 0) {
      const other = await runOf(node, silent[0]);
      throw new UsageError(
        `the node at ${byPeer.get(silent[0])} is not in this genesis's run ` +
          `${ctx.runIdHex.slice(0, 16)}… (${
            other === null
              ? "it joins none of the run's topics"
              : `it serves run ${other.slice(0, 16)}…`
          }): ask whoever runs it for its genesis file (the run id is its SHA-256)`,
      );
    }
    if (now >= deadline) {
      const ports = [...new Set(bootstrap.map(tcpPort).filter((p) => p !== null))];
      throw new UsageError(
        `no node reachable at ${bootstrap.join(", ")} after ${timeoutMs / 1000} s; check the ` +
          `address and that port${ports.length === 1 ? "" : "s"} ${ports.join(", ")} ${
            ports.length === 1 ? "is" : "are"
          } open on that machine (firewall, router port forward)`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The run id (hex) of the first round record `peer` serves, null when it serves none. */
async function runOf(node: WeblocoNode, peer: string): Promise<string | null> {
  try {
    const res = await node.sync(peer, 0, { timeoutMs: 5_000 });
    const m = res.records.length > 0 ? decodeMessage(res.records[0]) : null;
    return m?.ok ? hex(m.message.runId) : null;
  } catch {
    return null;
  }
}

/** Runs a role until SIGINT/SIGTERM. */
export async function main(args: readonly string[]): Promise<void> {
  const a = parseRoleArgs(args);
  const genesis = await readGenesisFile(a.genesis);
  const ctx = runContext(genesis);
  await identityReady();
  const signer = await readKeyFile(a.key).catch((e) => {
    throw new UsageError(
      e instanceof IdentityError ? e.message : `${a.key}: ${(e as Error).message}`,
    );
  });
  if (a.role === "validator" && !genesis.validators.includes(signer.address)) {
    throw new UsageError(
      `${a.key}: ${signer.address} is not a validator of this run (the genesis names ${
        genesis.validators.join(", ")
      })`,
    );
  }
  const store = await FileStore.open(a.dataDir);
  const name = `${a.role} ${signer.address.slice(0, 6)}`;
  const view = a.json ? null : new LiveView({ tty: Deno.stdout.isTerminal() });
  const metrics = a.metrics === null ? null : new RoleMetrics();
  const emit = (e: RoleEvent) => {
    metrics?.add(e);
    if (view !== null) view.add(name, e);
    else console.log(JSON.stringify(e));
  };
  const log = (line: string) => emit({ event: "log", address: signer.address, line });
  const server = a.metrics === null ? null : listenMetrics(a.metrics, metrics!);
  if (server !== null) log(`metrics: http://${a.metrics!.hostname}:${a.metrics!.port}/metrics`);
  const bootstrap = [...genesis.bootstrap, ...a.bootstrap];
  if (a.dialOnly && bootstrap.length === 0) {
    throw new UsageError(
      "--listen none: this node only dials out, so it needs a --bootstrap address " +
        "(or a genesis with a bootstrap list)",
    );
  }
  // Files the genesis names but this machine lacks come from the run first; all are served.
  const content = await prepareGenesisContent({
    genesis,
    genesisPath: a.genesis,
    dataDir: a.dataDir,
    bootstrap,
    log,
  });
  // Fails when a peer finds no bootstrap node of its run (it then stops with the reason);
  // never settles otherwise.
  let fail!: (e: unknown) => void;
  const joinFailed = new Promise<never>((_, reject) => fail = reject);
  const createNode: NodeFactory = async (o) => {
    const node = await createDenoNode({
      ...o,
      listen: a.dialOnly ? [] : a.listen.length > 0 ? a.listen : undefined,
      content: { source: content },
      announce: a.announce.length > 0 ? a.announce : undefined,
      // Peers met before: found again even when they, or this node, moved since.
      addressBook: store,
    }).catch((e) => {
      throw e instanceof NetError ? new UsageError(`--listen: ${e.message}`) : e;
    });
    const addresses = node.addresses();
    if (view === null) {
      console.log(JSON.stringify({
        event: "listening",
        role: a.role,
        address: signer.address,
        peerId: node.peerId,
        addresses,
      }));
    } else if (a.dialOnly) {
      view.line(`${name} has no listening port (--listen none): it takes part by dialing out`);
    } else {
      view.line(`${name} listening; others join with --bootstrap and one of:`);
      for (const x of addresses) view.line(`  ${x}`);
    }
    if (bootstrap.length === 0) {
      log("no bootstrap node (no --bootstrap, none in the genesis): waiting to be dialed");
    } else {
      awaitBootstrap(node, ctx, bootstrap, a.bootstrapTimeoutMs).then((found) => {
        log(`connected to bootstrap node${found.length === 1 ? "" : "s"} ${found.join(", ")}`);
      }, (e) => {
        // The validator is the run's source of truth: it keeps running and says why.
        if (a.role === "validator") log((e as Error).message);
        else fail(e);
      });
    }
    // By hand (the swarm, with --json, prints its own): the link for `vite preview`'s page.
    if (a.role === "validator" && !a.json) log(joinLine(PREVIEW_PAGE, genesis, addresses));
    return node;
  };
  const parts = {
    ctx,
    signer,
    store,
    libp2pKey: await libp2pKeyFile(`${a.dataDir}/libp2p.key`),
    bootstrap: a.bootstrap,
    emit,
    createNode,
  };
  // The backend comes before the node: a missing GPU is a start-up error, not a network one.
  const data = await loadRunData(genesis, a.genesis, content.dir);
  const needs = memoryNeeds(genesis.model, a.role, genesis.data.batch, genesis.model.context, {
    recompute: a.recompute,
  });
  log(describeMemory(`model of ${a.genesis}`, needs)[0]);
  const ops = await openBackend(
    a.backend,
    log,
    (limits, software) => {
      checkBufferLimits(`the model of ${a.genesis}`, needs, limits);
      // A software adapter's buffers are host memory (memory.ts: the one host-memory guard).
      if (software) {
        checkHostMemory(`the model of ${a.genesis}`, needs, Deno.systemMemoryInfo().available);
      }
    },
  );
  if (ops.name.startsWith("cpu")) {
    checkHostMemory(`the model of ${a.genesis}`, needs, Deno.systemMemoryInfo().total);
  }
  const started = startRole({
    ...parts,
    role: a.role,
    tokens: data.train,
    valid: data.valid,
    ops,
    trainer: { recompute: a.recompute },
    // A CPU step or forward pass never yields: a peer trains and a validator scores in a
    // Worker, so its network is served meanwhile.
    ...(ops.name.startsWith("cpu")
      ? {
        makeTrainer: (c, o, sampler, peer, options) =>
          new WorkerTrainer(c, o.name, sampler, peer, options),
        makeProbe: (c, o) => new WorkerProbe(c.genesis, o.name),
      }
      : {}),
  });
  // A peer with an unreachable bootstrap may still be catching up: the failure ends it anyway.
  await Promise.race([started, joinFailed]);
  const role = await started;

  await Promise.race([
    joinFailed,
    new Promise<void>((resolve) => {
      const stop = () => resolve();
      Deno.addSignalListener("SIGINT", stop);
      Deno.addSignalListener("SIGTERM", stop);
    }),
  ]).catch(async (e) => {
    await role.stop();
    throw e;
  });
  log("stopping");
  await role.stop();
  await server?.shutdown();
  view?.close();
}

/** Starts the metrics server; a port in use is the operator's to fix. */
function listenMetrics(at: MetricsAddress, metrics: RoleMetrics): Deno.HttpServer {
  try {
    return serveMetrics(at, metrics);
  } catch (e) {
    throw new UsageError(
      `--metrics: cannot listen on ${at.hostname}:${at.port}: ${(e as Error).message}`,
    );
  }
}

if (import.meta.main) await runCli(() => main(Deno.args));
