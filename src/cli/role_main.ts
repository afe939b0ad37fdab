/**
 * `deno task peer` and `deno task validator`: join a run as a training peer or as its
 * validator.
 *
 *   deno task peer      --genesis FILE --key FILE --data-dir DIR [--bootstrap MA]… [--listen MA]…
 *                       [--backend auto|dawn|wgpu|cpu] [--json]
 *   deno task validator --genesis FILE --key FILE --data-dir DIR [--bootstrap MA]… [--listen MA]… [--json]
 *
 * A live view shows window, phase, inner step, loss, bytes in/out and contributors; `--json`
 * prints every event as one JSON line instead (the swarm reads those). SIGINT/SIGTERM stop
 * the role cleanly; its state is in the data directory, and the next start resumes from it.
 *
 * @module
 */

import { IdentityError } from "../identity/errors.ts";
import { readKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";
import { createDenoNode } from "../net/deno_node.ts";
import { NetError } from "../net/errors.ts";
import { runContext } from "../protocol/run_context.ts";
import type { RoleEvent } from "../roles/role_events.ts";
import { type NodeFactory, startRole } from "../roles/start_role.ts";
import { type Backend, BACKEND_USAGE, openBackend, parseBackend } from "./backend.ts";
import { parseFlags, runCli, UsageError } from "./cli.ts";
import { FileStore } from "./file_store.ts";
import { readGenesisFile } from "./genesis_file.ts";
import { prepareGenesisContent } from "./genesis_file_content.ts";
import { libp2pKeyFile } from "./libp2p_key.ts";
import { LiveView } from "./live_view.ts";
import { loadRunData } from "./run_data.ts";
import { checkBufferLimits, describeMemory, memoryNeeds } from "../model/memory.ts";

const USAGE = "usage: deno task peer|validator --genesis FILE --key FILE --data-dir DIR " +
  `[--bootstrap MA]… [--listen MA]… [${BACKEND_USAGE}] [--json]`;

/** Parsed command line. */
export interface RoleArgs {
  role: "peer" | "validator";
  genesis: string;
  key: string;
  dataDir: string;
  bootstrap: string[];
  listen: string[];
  backend: Backend;
  json: boolean;
}

/** Parses `args` (the role first); throws {@linkcode UsageError}. */
export function parseRoleArgs(args: readonly string[]): RoleArgs {
  const parsed = parseFlags({
    args: [...args],
    options: {
      genesis: { type: "string" },
      key: { type: "string" },
      "data-dir": { type: "string" },
      bootstrap: { type: "string", multiple: true, default: [] },
      listen: { type: "string", multiple: true, default: [] },
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
  for (const k of ["genesis", "key", "data-dir"] as const) {
    if (v[k] === undefined) throw new UsageError(`--${k} is required (${USAGE})`);
  }
  return {
    role,
    genesis: v.genesis!,
    key: v.key!,
    dataDir: v["data-dir"]!,
    bootstrap: v.bootstrap!,
    listen: v.listen!,
    backend: parseBackend(v.backend!),
    json: v.json!,
  };
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
  const emit = (e: RoleEvent) => {
    if (view !== null) view.add(name, e);
    else console.log(JSON.stringify(e));
  };
  const log = (line: string) => emit({ event: "log", address: signer.address, line });
  // Files the genesis names but this machine lacks come from the run first; all are served.
  const content = await prepareGenesisContent({
    genesis,
    genesisPath: a.genesis,
    dataDir: a.dataDir,
    bootstrap: [...genesis.bootstrap, ...a.bootstrap],
    log,
  });
  const createNode: NodeFactory = async (o) => {
    const node = await createDenoNode({
      ...o,
      listen: a.listen.length > 0 ? a.listen : undefined,
      content: { source: content },
    }).catch((e) => {
      throw e instanceof NetError ? new UsageError(e.message) : e;
    });
    console.log(JSON.stringify({
      event: "listening",
      role: a.role,
      address: signer.address,
      peerId: node.peerId,
      addresses: node.addresses(),
    }));
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
  const tokens = (await loadRunData(genesis, a.genesis, content.dir)).train;
  const needs = memoryNeeds(genesis.model, a.role, genesis.data.batch);
  log(describeMemory(`model of ${a.genesis}`, needs)[0]);
  const ops = await openBackend(
    a.backend,
    log,
    (limits) => checkBufferLimits(`the model of ${a.genesis}`, needs, limits),
  );
  const role = await startRole({ ...parts, role: a.role, tokens, ops });

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  log("stopping");
  await role.stop();
  view?.close();
}

if (import.meta.main) await runCli(() => main(Deno.args));
