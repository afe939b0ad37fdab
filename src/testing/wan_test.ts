/**
 * A run under internet conditions: a validator and two peers, each in its own network
 * namespace, on links with 80 ms ± 20 ms one-way delay, 1% loss and 20 Mbit/s (`tc netem`
 * where the kernel has it, else the userspace WAN relay, see wan_lab.ts). Rounds complete,
 * every peer applies each record with the validator's model hash, and a peer that cannot be
 * dialled (`--listen none`: no listening port, like a host behind a NAT) is still selected:
 * its update travels over the connection it dialled. Skipped where namespaces cannot be made.
 */

import { assert, assertEquals } from "./assert.ts";
import { netnsUnavailable } from "./netns.ts";
import { INTERNET } from "./wan_lab.ts";
import { startWanRun } from "./wan_run.ts";

const unavailable = await netnsUnavailable();
if (unavailable !== null) console.log(`wan test skipped: ${unavailable}`);

Deno.test({
  name: "wan a validator and two peers on shaped links complete rounds on one hash",
  ignore: unavailable !== null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const run = await startWanRun({
      conditions: INTERNET,
      windowMs: 8_000,
      H: 4,
      timeoutMs: 85_000,
    });
    const { watch, links } = run;
    console.log(`wan test: links shaped by ${links.kind}`);
    try {
      await watch.until(
        "two records, one selecting the undialable peer",
        () =>
          run.records().length >= 2 && run.records().some((r) => r.selected.includes(run.p2))
            ? true
            : undefined,
      );
      for (const name of ["p1", "p2"]) {
        for (const r of run.records().slice(0, 2)) {
          const mine = await watch.until(
            `${name} applying window ${r.window}`,
            () => watch.events(name).find((e) => e.event === "applied" && e.window === r.window),
          );
          assert(mine.event === "applied");
          assertEquals(mine.modelHash, r.modelHash, `${name} window ${r.window}`);
        }
      }
      assert(run.records().some((r) => r.selected.includes(run.p1)), "p1 never selected");
      if (links.kind === "relay") {
        await links.close();
        const stats = links.relayStats();
        // The connections dialled passed the relay, with the payloads' bytes.
        assert(
          stats !== null && stats.connections >= 2 && stats.bytes > 10_000,
          JSON.stringify(stats),
        );
      }
    } finally {
      await run.close();
    }
  },
});
