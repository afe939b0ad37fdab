/**
 * A {@linkcode RoleNode} without a role (no trainer, no validator loop) for the hostile test
 * processes (`attacker_main.ts`, `dishonest_validator_main.ts`): a real libp2p node with the
 * run's gossip rules and record log, so what they send is well-formed on the wire and only its
 * content is hostile. Prints the `listening` line a role prints, so the harness reads it alike.
 *
 * @module
 */
import type { PrivateKey } from "@libp2p/interface";
import type { Capability } from "../codec/messages.ts";
import type { Signer } from "../identity/signer.ts";
import { createDenoNode } from "../net/deno_node.ts";
import type { WeblocoNode } from "../net/node.ts";
import { gossipRules, type RejectCounts } from "../protocol/gossip_rules.ts";
import { RecordLog } from "../protocol/record_log.ts";
import type { RunContext } from "../protocol/run_context.ts";
import type { StateStore } from "../protocol/state_store.ts";
import { MAX_DIALED_PEERS, RoleNode } from "../roles/role_node.ts";

/** What a bare node needs: the run, its identity, its data dir and where to connect. */
export interface BareRoleNodeOptions {
  ctx: RunContext;
  signer: Signer;
  libp2pKey: PrivateKey;
  store: StateStore;
  bootstrap: readonly string[];
  /** Listen addresses; empty: the node's defaults. */
  listen: readonly string[];
  role: "peer" | "validator";
  capabilities: Capability[];
  log: (line: string) => void;
}

/** Starts the node, prints its `listening` line and returns it with its (unstarted) RoleNode. */
export async function bareRoleNode(
  o: BareRoleNodeOptions,
): Promise<{ node: WeblocoNode; net: RoleNode }> {
  const rejected: RejectCounts = {};
  const node: WeblocoNode = await createDenoNode({
    runId: o.ctx.runId,
    privateKey: o.libp2pKey,
    bootstrap: [...o.ctx.genesis.bootstrap, ...o.bootstrap],
    bootstrapIntervalMs: 2_000,
    wantPeers: MAX_DIALED_PEERS,
    validate: gossipRules(o.ctx, () => node.topics, rejected),
    listen: o.listen.length > 0 ? [...o.listen] : undefined,
    log: o.log,
  });
  printListening(o.role, o.signer.address, node);
  const net = new RoleNode({
    ctx: o.ctx,
    node,
    signer: o.signer,
    libp2pKey: o.libp2pKey,
    records: await RecordLog.open(o.ctx, o.store.sub("records"), o.log),
    rejected,
    capabilities: o.capabilities,
    log: o.log,
  });
  return { node, net };
}

/** The `listening` JSON line of a role (the swarm harness waits for it). */
export function printListening(
  role: "peer" | "validator",
  address: string,
  node: { peerId: string; addresses(): string[] },
): void {
  console.log(
    JSON.stringify({
      event: "listening",
      role,
      address,
      peerId: node.peerId,
      addresses: node.addresses(),
    }),
  );
}
