/**
 * `deno task soak`: the churn soak (src/testing/soak_swarm.ts). A validator and `--peers`
 * peers as processes on loopback, CPU backend, tiny model; in each of `--rounds` windows,
 * `--kill-share` of the peers are SIGKILLed at seeded random points and restarted from their
 * data dirs; then `--calm` windows. Writes bench/soak.json and prints the README row.
 * Exits 1 when a round stalled, a peer ended off the validator's hash, a hash diverged or a
 * restart lost state.
 *
 * ```
 * nice -n 10 deno task soak --peers 5 --rounds 20 --window-ms 10000 --seed 1
 * ```
 *
 * @module
 */

import { numberFlag, parseFlags, runCli } from "../src/cli/cli.ts";
import { writeFileAtomic } from "../src/util/atomic_write.ts";
import { runChurnSoak } from "../src/testing/soak_swarm.ts";

const USAGE = "usage: deno task soak [--peers N] [--rounds N] [--calm N] [--kill-share F] " +
  "[--window-ms MS] [--seed S] [--dir DIR] [--out PATH]";

async function main(): Promise<void> {
  const f = parseFlags({
    args: Deno.args,
    options: {
      peers: { type: "string" },
      rounds: { type: "string" },
      calm: { type: "string" },
      "kill-share": { type: "string" },
      "window-ms": { type: "string" },
      seed: { type: "string" },
      dir: { type: "string" },
      out: { type: "string" },
    },
    strict: true,
  }, USAGE).values;
  const o = {
    peers: numberFlag("peers", f.peers, 5, { integer: true, min: 1 }),
    rounds: numberFlag("rounds", f.rounds, 20, { integer: true, min: 1 }),
    calm: numberFlag("calm", f.calm, 2, { integer: true, min: 0 }),
    killShare: numberFlag("kill-share", f["kill-share"], 0.3, { integer: false, min: 0 }),
    windowMs: numberFlag("window-ms", f["window-ms"], 10_000, { integer: true, min: 1000 }),
    seed: numberFlag("seed", f.seed, 1, { integer: true, min: 0 }),
  };
  const dir = f.dir ?? await Deno.makeTempDir({ prefix: "webloco-soak-" });
  const r = await runChurnSoak({ ...o, dir, log: (line) => console.log(line) });
  const out = { date: new Date().toISOString(), ...o, ...r };
  const path = f.out ?? "bench/soak.json";
  await writeFileAtomic(path, JSON.stringify(out, null, 2) + "\n");
  if (f.dir === undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
  const ok = r.stalled.length === 0 && r.offHash.length === 0 && r.divergent.length === 0 &&
    r.losses === 0;
  console.log(
    `| churn soak (\`deno task soak\`, ${out.date.slice(0, 10)}) | ${r.peers} peers, ` +
      `${Math.round(o.killShare * 100)}% killed per window | ${r.rounds} windows of ` +
      `${o.windowMs / 1000} s + ${o.calm} calm | ${r.kills.length} SIGKILLs + restarts | ` +
      `stalled ${r.stalled.length}, off-hash ${r.offHash.length} (window ${r.finalWindow}), ` +
      `diverged ${r.divergent.length}, state lost ${r.losses} | ` +
      `${r.contributors.filter((n) => n > 0).length} of ${r.contributors.length} records with ` +
      `contributors | ${r.seconds} s |`,
  );
  console.log(`wrote ${path}`);
  if (!ok) {
    console.error(r.tail.join("\n"));
    Deno.exit(1);
  }
}

if (import.meta.main) await runCli(main);
