/**
 * A dishonest validator as its own process, for the several-validators test
 * (src/cli/validators_swarm_test.ts): it holds a genesis validator's key, and at its turn in
 * every window's proposer order it signs and votes for a round record whose aggregate is
 * wrong (no contributors, yet a next-model hash other than the head it starts from); it also
 * votes for every other validator's proposal, so it votes twice per window. Honest validators
 * must refuse to vote for its records, and nodes must stop counting its double votes.
 * Built from the project's parts: a {@linkcode RoleNode}, the run's gossip rules and record log.
 *
 *   deno run -A src/testing/dishonest_validator_main.ts --genesis FILE --key FILE
 *     --data-dir DIR [--bootstrap MA]… [--listen MA]… [--json]
 *
 * @module
 */

import { readKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";
import { proposeAt, recordHash } from "../protocol/quorum.ts";
import { runContext } from "../protocol/run_context.ts";
import type { RoleEvent } from "../roles/role_events.ts";
import { parseFlags, runCli } from "../cli/cli.ts";
import { FileStore } from "../cli/file_store.ts";
import { readGenesisFile } from "../cli/genesis_file.ts";
import { libp2pKeyFile } from "../cli/libp2p_key.ts";
import { requireRoleFlags, roleFlags } from "../cli/role_flags.ts";
import { bareRoleNode } from "./bare_role_node.ts";

const USAGE = "usage: dishonest_validator_main.ts --genesis FILE --key FILE --data-dir DIR " +
  "[--bootstrap MA]… [--listen MA]… [--json]";

/** Runs the dishonest validator until SIGINT/SIGTERM. */
export async function main(args: readonly string[]): Promise<void> {
  const { values: v } = parseFlags({
    args: [...args],
    options: { ...roleFlags(), json: { type: "boolean", default: false } },
    strict: true,
  }, USAGE);
  requireRoleFlags(v, USAGE);
  const ctx = runContext(await readGenesisFile(v.genesis!));
  await identityReady();
  const signer = await readKeyFile(v.key!);
  const emit = (e: RoleEvent) => console.log(JSON.stringify(e));
  const log = (line: string) => emit({ event: "log", address: signer.address, line });
  const { node, net } = await bareRoleNode({
    ctx,
    signer,
    libp2pKey: await libp2pKeyFile(`${v["data-dir"]}/libp2p.key`),
    store: await FileStore.open(v["data-dir"]!),
    bootstrap: v.bootstrap!,
    listen: v.listen!,
    role: "validator",
    capabilities: ["validate"],
    log,
  });
  net.start();
  const rounds = net.node.topics.rounds;
  const voteFor = (w: number, record: Uint8Array) =>
    net.publish(rounds, { kind: "record-vote", window: w, recordHash: recordHash(record) });
  /** The newest record that counts: the head the forged records start from. */
  let head: { window: number; hash: Uint8Array } | null = null;
  net.subscribe(rounds, async (m, bytes) => {
    const r = net.records.fromGossip(m, bytes);
    if (r !== undefined && (head === null || r.record.window > head.window)) {
      head = { window: r.record.window, hash: r.record.nextModelHash };
    }
    if (m.body.kind === "round-record" && m.sender !== signer.address) {
      await voteFor(m.body.window, bytes); // a second vote in that window
    }
  });
  const forged = new Set<number>();
  const timer = setInterval(() => {
    if (head === null) return;
    const w = head.window + 1;
    if (forged.has(w) || Date.now() < proposeAt(ctx, w, signer.address)!) return;
    forged.add(w);
    const wrong = head.hash.slice();
    wrong[0] ^= 0xff; // an empty aggregate leaves the head as it is: any other hash is wrong
    void (async () => {
      const record = await net.publish(rounds, {
        kind: "round-record",
        window: w,
        modelHash: head!.hash,
        nextModelHash: wrong,
        contributors: [],
      });
      await voteFor(w, record);
      log(`proposed a record of window ${w} with a wrong aggregate`);
    })().catch((e) => log(`forging failed: ${e.message}`));
  }, 100);
  await new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGINT", resolve);
    Deno.addSignalListener("SIGTERM", resolve);
  });
  clearInterval(timer);
  net.stop();
  await node.stop();
}

if (import.meta.main) await runCli(() => main(Deno.args));
