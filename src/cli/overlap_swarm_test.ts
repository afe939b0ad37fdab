/**
 * The overlapped round mode (genesis `rounds.outerDelay: 1`) end to end, as processes on
 * 127.0.0.1: a validator and two peers train with the one-window-delayed outer step — every
 * peer holds the validator's hash after every record, trains every window without waiting for
 * a record, and a peer joining later replays the records to the same hash; the validator's
 * address book holds the peers as selected (above peers only heard of). 5 s windows, H 3,
 * CPU backend; 42 s at load ~17 on 2 cores (51 s before, 2026-12-01).
 *
 * What a loaded machine slows is process start — the validator 4 s, a peer 8–12 s from spawn
 * to listening at load ~19 — not the window clock. So every wait is on a condition with a
 * budget in windows of the genesis, counted from when the awaited thing can first happen (the
 * roles listening, the record's boundary), not one fixed deadline from the start; and the
 * joiner's process starts as soon as a record selects both peers, so its start overlaps the
 * windows still to come instead of following them.
 */

import { assert, assertEquals } from "../testing/assert.ts";
import { pollUntil, windowsAfter as windowsAfterGenesis } from "../testing/poll_until.ts";
import type { AppliedEvent, RoleEvent, RoundEvent } from "../roles/role_events.ts";
import { ADDRESS_BOOK_NAME, type BookEntry } from "../net/address_book.ts";
import { type RoleProcess, Swarm } from "./swarm.ts";

/** Peer id → standing in the address book file at `path` (empty while it is not written). */
function readBook(path: string): Map<string, string | undefined> {
  try {
    const { peers } = JSON.parse(Deno.readTextFileSync(path)) as { peers: BookEntry[] };
    return new Map(peers.map((e) => [e.peerId, e.standing]));
  } catch {
    return new Map();
  }
}

/** Records selecting both peers the test waits for (each peer then has trained ≥ 3 rounds). */
const FULL_RECORDS = 3;

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
    const { genesisTime, windowMs } = swarm.genesis;
    const windowsAfter = (n: number, from = Date.now()) => windowsAfterGenesis(swarm.genesis, n, from);
    const until = <T>(what: string, find: () => T | undefined | false, deadline: number) =>
      pollUntil(what, find, { deadline, logs });
    const byValidator = () => applied.filter((a) => a.name === "validator").map((a) => a.e);
    const hashOf = (name: string, w: number) =>
      applied.find((a) => a.name === name && a.e.window === w)?.e.modelHash;
    try {
      await swarm.startValidator();
      const peers = await Promise.all([0, 1].map((i) => swarm.startPeer(i)));
      const both = (r: AppliedEvent) => peers.every((p) => r.selected.includes(p.address));
      // Catching up, one window joined late, one trained: the first record with both.
      const first = await until(
        "a record selecting both peers",
        () => byValidator().find(both),
        windowsAfter(6),
      );
      // The joiner's process starts now; it catches up once the windows below are done.
      let joiner: RoleProcess | Error | undefined;
      const joinedAt = Date.now();
      swarm.startPeer(2).then((p) => joiner = p, (e) => joiner = e);
      const full = await until(
        `${FULL_RECORDS} records selecting both peers`,
        () => byValidator().filter(both).length >= FULL_RECORDS && byValidator().filter(both),
        windowsAfter(FULL_RECORDS + 3, genesisTime + (first.window + 1) * windowMs),
      );
      // Record w is applied at the boundary w + 1 → w + 2 (3 windows more for a late one).
      for (const r of full) {
        for (const p of peers) {
          await until(
            `${p.name} applying record ${r.window}`,
            () => hashOf(p.name, r.window) !== undefined,
            genesisTime + (r.window + 5) * windowMs,
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
      // The validator's address book ranks the peers its records selected above hearsay.
      const idOf = (p: RoleProcess) => p.addresses[0].split("/p2p/")[1];
      await until(
        "the validator's address book standing of both peers as selected",
        () => {
          const book = readBook(`${dir}/validator/${ADDRESS_BOOK_NAME}`);
          return peers.every((p) => book.get(idOf(p)) === "selected");
        },
        windowsAfter(2),
      );
      // A joiner replays the records to the validator's hash.
      const started = await until("the joiner listening", () => joiner, joinedAt + 6 * windowMs);
      if (started instanceof Error) throw started;
      await until("the joiner catching up", () => caughtUp.has(started.name), windowsAfter(4));
      const at = caughtUp.get(started.name)!;
      assert(at >= first.window, `joiner caught up to ${at}, record ${first.window} was out`);
      assertEquals(hashOf(started.name, at), hashOf("validator", at), "joiner's hash");
    } finally {
      await swarm.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
