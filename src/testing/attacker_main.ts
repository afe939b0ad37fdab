/**
 * A hostile peer as its own process, for the swarm harness (`Swarm.startAttacker`) and
 * `deno task attack`: the flags of `deno task peer`, the attack kind first, and the honest
 * peers it may take payloads from.
 *
 *   deno run -A src/testing/attacker_main.ts KIND --genesis FILE --key FILE --data-dir DIR
 *     [--bootstrap MA]… [--listen MA]… [--victim SS58]… [--backend cpu|…] [--json]
 *
 * It prints the same `listening` line and JSON events as a role, so the swarm reads it alike.
 *
 * @module
 */

import { cpuOps } from "../backend/cpu_ops.ts";
import type { Ops } from "../backend/ops.ts";
import { readKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";
import { createDenoNode } from "../net/deno_node.ts";
import { runContext } from "../protocol/run_context.ts";
import type { RoleEvent } from "../roles/role_events.ts";
import { startRole } from "../roles/start_role.ts";
import { parseFlags, runCli, UsageError } from "../cli/cli.ts";
import { FileStore } from "../cli/file_store.ts";
import { readGenesisFile } from "../cli/genesis_file.ts";
import { requireRoleFlags, roleFlags } from "../cli/role_flags.ts";
import { libp2pKeyFile } from "../cli/libp2p_key.ts";
import { loadRunData } from "../cli/run_data.ts";
import { bareRoleNode, printListening } from "./bare_role_node.ts";
import { HostileTrainer, isAttackKind, Parasite, TRAINING_ATTACKS } from "./attacker.ts";

const USAGE = "usage: attacker_main.ts KIND --genesis FILE --key FILE --data-dir DIR " +
  "[--bootstrap MA]… [--listen MA]… [--victim SS58]… [--backend cpu] [--json]";

/** Runs one attacker until SIGINT/SIGTERM. */
export async function main(args: readonly string[]): Promise<void> {
  const { values: v, positionals } = parseFlags({
    args: [...args],
    options: {
      ...roleFlags(),
      victim: { type: "string", multiple: true, default: [] },
      backend: { type: "string", default: "cpu" },
      json: { type: "boolean", default: false },
    },
    allowPositionals: true,
    strict: true,
  }, USAGE);
  const kind = positionals[0];
  if (kind === undefined || !isAttackKind(kind) || positionals.length > 1) {
    throw new UsageError(`unknown attack "${positionals.join(" ")}" (${USAGE})`);
  }
  requireRoleFlags(v, USAGE);
  if (v.backend !== "cpu") throw new UsageError("attackers train on the CPU reference only");
  const genesis = await readGenesisFile(v.genesis!);
  const ctx = runContext(genesis);
  await identityReady();
  const signer = await readKeyFile(v.key!);
  const store = await FileStore.open(v["data-dir"]!);
  const emit = (e: RoleEvent) => console.log(JSON.stringify(e));
  const log = (line: string) => emit({ event: "log", address: signer.address, line });
  const libp2pKey = await libp2pKeyFile(`${v["data-dir"]}/libp2p.key`);
  const listen = v.listen!.length > 0 ? v.listen! : undefined;
  let stop: () => Promise<void>;
  if ((TRAINING_ATTACKS as readonly string[]).includes(kind)) {
    const role = await startRole({
      role: "peer",
      ctx,
      signer,
      store,
      libp2pKey,
      bootstrap: v.bootstrap!,
      emit,
      createNode: async (o) => {
        const node = await createDenoNode({ ...o, listen });
        printListening("peer", signer.address, node);
        return node;
      },
      tokens: (await loadRunData(genesis, v.genesis!)).train,
      ops: cpuOps(32) as Ops<unknown>,
      makeTrainer: (c, ops, sampler, peer) =>
        new HostileTrainer(kind as typeof TRAINING_ATTACKS[number], c, ops, sampler, peer),
    });
    stop = () => role.stop();
  } else {
    const { node, net } = await bareRoleNode({
      ctx,
      signer,
      libp2pKey,
      store,
      bootstrap: v.bootstrap!,
      listen: v.listen!,
      role: "peer",
      capabilities: ["train", "serve-payloads"],
      log,
    });
    const parasite = new Parasite(
      net,
      kind as ConstructorParameters<typeof Parasite>[1],
      v.victim!,
    );
    await parasite.start();
    stop = async () => {
      parasite.stop();
      await node.stop();
    };
  }
  await new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGINT", resolve);
    Deno.addSignalListener("SIGTERM", resolve);
  });
  await stop();
}

if (import.meta.main) await runCli(() => main(Deno.args));
