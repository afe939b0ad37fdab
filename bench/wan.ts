/**
 * `deno task bench:wan`: a run under internet conditions against the same run unshaped — a
 * validator and two peers in their own network namespaces (src/testing/wan_run.ts; one peer
 * cannot be dialled), links at 80 ms ± 20 ms one-way, 1% loss, 20 Mbit/s (`tc netem` where the
 * kernel has it, else the userspace WAN relay). Per condition: the peers' idle share of a round
 * (everything that is not inner steps, as in bench:rounds) and the payload bytes up and down
 * per peer per round, from the peers' "round" events, and the relay's counts. Needs root
 * (namespaces). Writes bench/wan.json.
 *
 *   deno task bench:wan [--rounds 4] [--window-ms 10000] [--H 1000]
 */
import { parseArgs } from "node:util";
import { writeFileAtomic } from "../src/util/atomic_write.ts";
import type { RoundEvent } from "../src/roles/role_events.ts";
import { netnsUnavailable } from "../src/testing/netns.ts";
import { INTERNET } from "../src/testing/wan_lab.ts";
import { startWanRun } from "../src/testing/wan_run.ts";
import type { WanConditions } from "../src/testing/wan_relay.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "4" },
    "window-ms": { type: "string", default: "10000" },
    H: { type: "string", default: "1000" },
  },
  strict: true,
}).values;
const rounds = Number(args.rounds), windowMs = Number(args["window-ms"]), H = Number(args.H);
if (![rounds, windowMs, H].every((n) => Number.isInteger(n) && n > 0)) {
  throw new Error("--rounds, --window-ms and --H take positive integers");
}
const unavailable = await netnsUnavailable();
if (unavailable !== null) {
  console.error(`bench:wan: ${unavailable}`);
  Deno.exit(1);
}

async function measure(name: string, conditions: WanConditions | null) {
  const run = await startWanRun({
    conditions,
    windowMs,
    H,
    timeoutMs: 30_000 + (rounds + 3) * windowMs * 2,
  });
  try {
    const peerRounds = (): RoundEvent[] =>
      ["p1", "p2"].flatMap((p) =>
        run.watch.events(p).flatMap((e) => e.event === "round" ? [e] : [])
      );
    await run.watch.until(
      `${rounds} rounds of each peer (${name})`,
      () =>
        ["p1", "p2"].every((p) =>
            run.watch.events(p).filter((e) => e.event === "round").length >= rounds
          )
          ? true
          : undefined,
    );
    await run.links.close();
    const rs = peerRounds();
    const sum = (f: (r: RoundEvent) => number) => rs.reduce((a, r) => a + f(r), 0);
    const compute = sum((r) => r.computeMs), idle = sum((r) => r.idleMs);
    const records = run.records();
    const result = {
      name,
      kind: conditions === null ? "none" : run.links.kind,
      conditions,
      peerRounds: rs.length,
      records: records.length,
      contributorsPerRecord: records.reduce((a, r) => a + r.contributors, 0) /
        Math.max(1, records.length),
      undialableSelected: records.filter((r) => r.selected.includes(run.p2)).length,
      computeMsPerRound: compute / rs.length,
      idleMsPerRound: idle / rs.length,
      applyMsPerRound: sum((r) => r.applyMs) / rs.length,
      idleShare: idle / (compute + idle),
      bytesUpPerPeerRound: sum((r) => r.bytesUp) / rs.length,
      bytesDownPerPeerRound: sum((r) => r.bytesDown) / rs.length,
      relay: run.links.relayStats(),
    };
    console.log(JSON.stringify(result));
    return result;
  } finally {
    await run.close();
  }
}

const results = [await measure("unshaped", null), await measure("internet", INTERNET)];
await writeFileAtomic(
  new URL("./wan.json", import.meta.url).pathname,
  JSON.stringify(
    { date: new Date().toISOString(), backend: "cpu", windowMs, H, rounds, results },
    null,
    2,
  ) + "\n",
);
for (const r of results) {
  console.log(
    `${r.name} (${r.kind}): idle ${(100 * r.idleShare).toFixed(1)}% of a round ` +
      `(${(r.idleMsPerRound / 1000).toFixed(2)} s), up ${r.bytesUpPerPeerRound.toFixed(0)} B, ` +
      `down ${r.bytesDownPerPeerRound.toFixed(0)} B per peer per round, ` +
      `${r.records} records, undialable peer selected in ${r.undialableSelected}`,
  );
}
