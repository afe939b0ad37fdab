/**
 * The overlapped round mode (genesis `rounds.outerDelay: 1`) end to end, as processes on
 * 127.0.0.1: a validator and two peers train with the one-window-delayed outer step — every
 * peer holds the validator's hash after every record, trains every window without waiting for
 * a record, and a peer joining later replays the records to the same hash. Cheap (< 60 s): 5 s
 * windows, H 3, CPU backend.
 */

import { assert, assertEquals } from "../testing/assert.ts";
import { pollUntil } from "../testing/poll_until.ts";
import type { AppliedEvent, RoleEvent, RoundEvent } from "../roles/role_events.ts";
import { Swarm } from "./swarm.ts";

Deno.test({
  name:
    "swarm with outer delay 1 stays on the validator's hash, trains every window, lets a joiner replay",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "webloco-overlap-" });
    const applied: { name: string; e: AppliedEvent }[] = [];
    const rounds: { name: string; e: RoundEvent }[] = [];
    /** Per role, the windows in which it waited for a record. */
    const waited = new Map<string, Set<number>>();
    const logs: string[] = [];
    const caughtUp = new Map<string, number>();
    const swarm = await Swarm.create({
      dir,
      windowMs: 5_000,
      startDelayMs: 8_000,
      backend: "cpu",
      genesis: {
        sparseloco: { H: 3 },
        data: { batch: 2 },
        checkpointInterval: 2,
        rounds: { outerDelay: 1 },
      },
      onEvent: (name: string, e: RoleEvent) => {
        if (e.event === "applied") applied.push({ name, e });
        if (e.event === "round") rounds.push({ name, e });
        if (e.event === "log") logs.push(`${name}: ${e.line}`);
        if (e.event === "caught-up") caughtUp.set(name, e.applied);
        if (e.event === "status" && e.phase.startsWith("waiting for record")) {
          if (!waited.has(name)) waited.set(name, new Set());
          waited.get(name)!.add(e.window);
        }
      },
      onStderr: (name, line) => logs.push(`${name} ! ${line}`),
    });
    const deadline = Date.now() + 55_000;
    const until = (what: string, cond: () => boolean) => pollUntil(what, cond, { deadline, logs });
    const byValidator = () => applied.filter((a) => a.name === "validator").map((a) => a.e);
    const hashOf = (name: string, w: number) =>
      applied.find((a) => a.name === name && a.e.window === w)?.e.modelHash;
    try {
      await swarm.startValidator();
      const peers = await Promise.all([0, 1].map((i) => swarm.startPeer(i)));
      await until(
        "3 records selecting both peers",
        () => byValidator().filter((r) => r.contributors === 2).length >= 3,
      );
      const full = byValidator().filter((r) => r.contributors === 2);
      // Record w is applied at the boundary w + 1 → w + 2: wait for that, then compare.
      for (const r of full) {
        for (const p of peers) {
          await until(
            `${p.name} applying record ${r.window}`,
            () => hashOf(p.name, r.window) !== undefined,
          );
          assertEquals(hashOf(p.name, r.window), r.modelHash, `${p.name} record ${r.window}`);
        }
      }
      // The record of the last window is not waited for: with outer delay 0 a peer waits in
      // every window (grace + scoring). A loaded machine may delay a record now and then.
      for (const p of peers) {
        const ws = rounds.filter((r) => r.name === p.name).map((r) => r.e.window);
        assert(ws.length >= 3, `${p.name}: ${ws.length} rounds`);
        const w = [...waited.get(p.name) ?? []];
        assert(3 * w.length <= ws.length, `${p.name} waited for a record in windows ${w} of ${ws}`);
      }
      // A joiner replays the records to the validator's hash.
      const joiner = await swarm.startPeer(2);
      await until("the joiner catching up", () => caughtUp.has(joiner.name));
      const at = caughtUp.get(joiner.name)!;
      assert(at >= full[full.length - 1].window, `joiner caught up to ${at}`);
      assertEquals(hashOf(joiner.name, at), hashOf("validator", at), "joiner's hash");
    } finally {
      await swarm.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
