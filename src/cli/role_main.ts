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

import { parseArgs } from "node:util";
import { cpuOps } from "../backend/cpu_ops.ts";
import { gpuOps } from "../backend/gpu_ops.ts";
import type { Ops } from "../backend/ops.ts";
import { Sampler } from "../data/sampler.ts";
import { adapterLabel } from "../gpu/device.ts";
import { IdentityError } from "../identity/errors.ts";
import { readKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";
import { openRuntime } from "../kernels/open_runtime.ts";
import { createDenoNode } from "../net/deno_node.ts";
import { NetError } from "../net/errors.ts";
import type { WeblocoNode } from "../net/node.ts";
import { readGenesisFile } from "./genesis_file.ts";
import { runCli, UsageError } from "./cli_errors.ts";
import { gossipRules, type RejectCounts } from "../protocol/gossip_rules.ts";
import { LiveView } from "./live_view.ts";
import { ModelChain } from "../protocol/model_chain.ts";
import { Peer } from "../roles/peer.ts";
import { RecordLog } from "../protocol/record_log.ts";
import type { RoleEvent } from "../roles/role_events.ts";
import { RoleNode } from "../roles/role_node.ts";
import { dataPeerIndex, initialParams, runContext } from "../protocol/run_context.ts";
import { loadRunData } from "./run_data.ts";
import { StateDir, StateError } from "./state_dir.ts";
import { Validator } from "../roles/validator.ts";
import { WindowTrainer } from "../roles/window_trainer.ts";

const USAGE = "usage: deno task peer|validator --genesis FILE --key FILE --data-dir DIR " +
  "[--bootstrap MA]… [--listen MA]… [--backend auto|dawn|wgpu|cpu] [--json]";

/** Parsed command line. */
export interface RoleArgs {
  role: "peer" | "validator";
  genesis: string;
  key: string;
  dataDir: string;
  bootstrap: string[];
  listen: string[];
  backend: "auto" | "dawn" | "wgpu" | "cpu";
  json: boolean;
}

/** Parses `args` (the role first); throws {@linkcode UsageError}. */
export function parseRoleArgs(args: readonly string[]): RoleArgs {
  let parsed;
  try {
    parsed = parseArgs({
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
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (${USAGE})`);
  }
  const [role, ...rest] = parsed.positionals;
  if (role !== "peer" && role !== "validator") {
    throw new UsageError(`the role must be peer or validator (${USAGE})`);
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}" (${USAGE})`);
  const v = parsed.values;
  for (const k of ["genesis", "key", "data-dir"] as const) {
    if (v[k] === undefined) throw new UsageError(`--${k} is required (${USAGE})`);
  }
  if (!["auto", "dawn", "wgpu", "cpu"].includes(v.backend!)) {
    throw new UsageError(`--backend must be auto, dawn, wgpu or cpu, got "${v.backend}"`);
  }
  return {
    role,
    genesis: v.genesis!,
    key: v.key!,
    dataDir: v["data-dir"]!,
    bootstrap: v.bootstrap!,
    listen: v.listen!,
    backend: v.backend as RoleArgs["backend"],
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
  const dir = await StateDir.open(a.dataDir).catch(userError);
  const name = `${a.role} ${signer.address.slice(0, 6)}`;
  const view = a.json ? null : new LiveView({ tty: Deno.stdout.isTerminal() });
  const emit = (e: RoleEvent) => {
    if (view !== null) view.add(name, e);
    else console.log(JSON.stringify(e));
  };
  const log = (line: string) => emit({ event: "log", address: signer.address, line });

  let saved = null;
  try {
    saved = await dir.load(ctx);
  } catch (e) {
    if (!(e instanceof StateError)) throw e;
    if (a.role === "validator") {
      throw new UsageError(
        `${e.message} (the validator does not start from a damaged state; move it away to start over)`,
      );
    }
    const moved = await dir.quarantine();
    log(`${e.message}; kept as ${moved}, starting from the network`);
  }
  const records = await RecordLog.open(ctx, dir.recordsDir, log);
  const chain = await ModelChain.at(ctx, saved?.params ?? initialParams(ctx), saved?.applied ?? -1);

  // The trainer comes before the node: a missing GPU is a start-up error, not a network one.
  let trainer: WindowTrainer<unknown> | null = null;
  if (a.role === "peer") {
    const data = await loadRunData(genesis, a.genesis);
    const opts = {
      batch: genesis.data.batch,
      context: genesis.model.context,
      seed: genesis.data.seed,
    };
    let ops: Ops<unknown> | null = null;
    if (a.backend !== "cpu") {
      const rt = await openRuntime(a.backend).catch((e) => {
        if (a.backend !== "auto") throw e;
        log(`no WebGPU adapter (${(e as Error).message}); using the CPU reference`);
        return null;
      });
      if (rt === null) { /* CPU below */ }
      else if (a.backend === "auto" && rt.adapter.software) {
        // A software rasteriser (SwiftShader) is far slower than the plain TypeScript reference
        // on the same cores (measured: ~16 s vs ~1 s per tiny-model step, 3 peers on 2 cores).
        log(
          `backend: CPU reference (only a software adapter: ${
            adapterLabel(rt.adapter)
          }; --backend dawn forces it)`,
        );
        rt.destroy();
      } else {
        ops = gpuOps(rt) as Ops<unknown>;
        log(`backend: ${adapterLabel(rt.adapter)}`);
      }
    } else {
      log("backend: CPU reference (float32)");
    }
    ops ??= cpuOps(32) as Ops<unknown>;
    trainer = new WindowTrainer(
      ctx,
      ops,
      new Sampler(data.train, opts),
      dataPeerIndex(signer.publicKey),
    );
  }

  const rejected: RejectCounts = {};
  const onReject = (topic: string, from: string, why: string) =>
    log(`rejected a message on ${topic.split("/").pop()} from ${from.slice(-8)}: ${why}`);
  let node: WeblocoNode | null = null;
  const libp2pKey = await dir.libp2pKey().catch(userError);
  try {
    node = await createDenoNode({
      runId: ctx.runId,
      privateKey: libp2pKey,
      listen: a.listen.length > 0 ? a.listen : undefined,
      bootstrap: [...genesis.bootstrap, ...a.bootstrap],
      bootstrapIntervalMs: 2_000,
      validate: gossipRules(ctx, () => node!.topics, rejected, onReject),
      // Size and signature-policy refusals happen before the rules; "rejected by validator"
      // repeats what the rules already said.
      gossip: {
        onReject: (topic, from, why) =>
          why !== "rejected by validator" && onReject(topic, from, why),
      },
      log,
    });
  } catch (e) {
    throw e instanceof NetError ? new UsageError(e.message) : e;
  }
  console.log(
    JSON.stringify({
      event: "listening",
      role: a.role,
      address: signer.address,
      peerId: node.peerId,
      addresses: node.addresses(),
    }),
  );
  const net = new RoleNode({
    ctx,
    node,
    signer,
    libp2pKey,
    records,
    rejected,
    capabilities: a.role === "peer"
      ? ["train", "serve-payloads"]
      : ["validate", "serve-payloads", "serve-checkpoints"],
    log,
  });
  const role = a.role === "peer"
    ? new Peer({
      net,
      chain,
      trainer: trainer!,
      dir,
      error: saved?.error ?? new Float32Array(ctx.layout.length),
      lastTrained: saved?.lastTrained ?? -1,
      emit,
    })
    : new Validator({ net, chain, dir, emit });
  await role.start();

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  log("stopping");
  await role.stop();
  await node.stop();
  view?.close();
}

function userError(e: unknown): never {
  throw e instanceof StateError ? new UsageError(e.message) : e;
}

if (import.meta.main) await runCli(() => main(Deno.args));
