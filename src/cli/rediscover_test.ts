/**
 * A validator restarted on a new port is found again, as an operator would meet it: role
 * processes on 127.0.0.1, a validator and two peers, one of them with `--listen none` (no
 * listening port: it takes part through the connections it dials). The validator is stopped
 * and started again from its data directory on a new port while every peer's bootstrap list
 * still names the old one (the dial-only peer's names a peer too). The validator dials the
 * peers of its address book, the listening peer learns its new address by identify, the
 * dial-only one from the validator's signed announcement relayed by that peer, and the next
 * records select both peers again, whose models keep the validator's hash. 5 s windows, H 3,
 * CPU backend.
 *
 * Held on a loaded machine, where what slows is process start (4–12 s each on 2 cores at load
 * ~19), not the window clock: each start has its own budget from its spawn, and each wait on a
 * record a budget in windows counted from when it can first happen (the roles listening, the
 * record out), not one deadline from the start over four starts in a row.
 *
 * A second test does it with a quorum (3 validators, 2 votes) and a dial-only peer whose
 * bootstrap names only validator 0: it hears of the others through validator 0's relayed
 * announcements, and finds validator 0 on its new port through theirs.
 */

import { writeKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import type { AppliedEvent } from "../roles/role_events.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { denoRun, ROLE_MAIN, RoleWatch } from "../testing/netns_roles.ts";
import { pollUntil, windowsAfter } from "../testing/poll_until.ts";
import { ADDRESS_BOOK_NAME } from "../net/address_book.ts";
import { readLines, stopProcesses } from "./swarm.ts";

/** A role process on this machine, its stdout and stderr lines into `watch`. */
function spawnRole(
  watch: RoleWatch,
  name: string,
  role: "peer" | "validator",
  args: readonly string[],
): Deno.ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: denoRun(ROLE_MAIN, [role, ...args, "--backend", "cpu", "--json"]),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const onLine = watch.onLine(name);
  for (const stream of [child.stdout, child.stderr]) void readLines(stream, onLine).catch(() => {});
  return child;
}

/** SIGTERM, then SIGKILL after 10 s; resolves when it has exited. */
const stopRole = (child: Deno.ChildProcess) => stopProcesses([child], 10_000);

const tcpOf = (addresses: string[]) => addresses.find((a) => !a.includes("/ws"))!;
const portOf = (address: string) => address.split("/")[4];

/** A process start may take this long (ms, spawn to listening) before the test gives up. */
const START_MS = 45_000;

Deno.test({
  name:
    "role processes find a validator restarted on a new port again, and a peer without a listening port contributes",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await identityReady();
    const dir = await Deno.makeTempDir({ prefix: "webloco-rediscover-" });
    const seed = (n: number) => new Uint8Array(32).fill(n);
    const v = await writeKeyFile(`${dir}/validator.json`, { seed: seed(61) });
    const p1 = await writeKeyFile(`${dir}/p1.json`, { seed: seed(62) });
    const p2 = await writeKeyFile(`${dir}/p2.json`, { seed: seed(63) });
    const genesis = localGenesis({
      name: "rediscover",
      validators: [v.address],
      genesisTime: Date.now() + 12_000,
      windowMs: 5_000,
      sparseloco: { H: 3 },
      data: { batch: 2 },
    });
    await Deno.writeTextFile(`${dir}/genesis.json`, JSON.stringify(genesis));
    const common = (name: string) => [
      ...["--genesis", `${dir}/genesis.json`, "--key", `${dir}/${name}.json`],
      ...["--data-dir", `${dir}/${name}`],
    ];
    const loopback = ["--listen", "/ip4/127.0.0.1/tcp/0"];
    // Its shared deadline is not used: each wait below has its own.
    const watch = new RoleWatch(Infinity);
    const until = <T>(what: string, find: () => T | undefined, deadline: number) =>
      pollUntil(what, find, { deadline, logs: watch.logs });
    /** The listening event of `name`, spawned just now. */
    const listening = (what: string, name: string) =>
      until(what, () => watch.listening(name), Date.now() + START_MS);
    const after = (n: number, from?: number) => windowsAfter(genesis, n, from);
    const records = (name: string) =>
      watch.events(name).filter((e): e is AppliedEvent => e.event === "applied");
    const children: Deno.ChildProcess[] = [];
    try {
      children.push(spawnRole(watch, "v", "validator", [...common("validator"), ...loopback]));
      const vOld = tcpOf((await listening("the validator listening", "v")).addresses);
      children.push(
        spawnRole(watch, "p1", "peer", [...common("p1"), ...loopback, "--bootstrap", vOld]),
      );
      const p1At = tcpOf((await listening("p1 listening", "p1")).addresses);
      children.push(spawnRole(watch, "p2", "peer", [
        ...common("p2"),
        ...["--listen", "none", "--bootstrap", vOld, "--bootstrap", p1At],
      ]));
      assertEquals(
        (await listening("p2 started", "p2")).addresses,
        [],
        "p2 listens nowhere",
      );
      const both = (r: AppliedEvent) =>
        r.selected.includes(p1.address) && r.selected.includes(p2.address);
      // Every role up: a window to join in, one to train, its record (a slow one is late).
      await until(
        "a record selecting both peers, the dial-only one included",
        () => records("v").find(both),
        after(6),
      );

      // Stopped as an operator would, started again from its data directory on a new port.
      await stopRole(children[0]);
      const stoppedAt = Date.now();
      const book = await Deno.readTextFile(`${dir}/validator/${ADDRESS_BOOK_NAME}`);
      assert(book.includes(portOf(p1At)), `the validator's book names p1: ${book}`);
      const lastBefore = records("v").at(-1)!.window;
      children[0] = spawnRole(watch, "v2", "validator", [...common("validator"), ...loopback]);
      const vNew = tcpOf((await listening("the validator listening again", "v2")).addresses);
      assert(portOf(vNew) !== portOf(vOld), `a new port: ${vNew} after ${vOld}`);
      // Found again (it dials the peers of its book), a window trained: its record.
      const again = await until(
        "a record after the restart selecting both peers",
        () => records("v2").find((r) => r.window > lastBefore && both(r)),
        after(6),
      );
      const windowAt = (t: number) => Math.floor((t - genesis.genesisTime) / genesis.windowMs);
      console.log(
        `rediscover: validator stopped in window ${
          windowAt(stoppedAt)
        } (last record ${lastBefore}),` +
          ` back on a new port; record ${again.window} selects both peers` +
          ` ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s after the stop`,
      );
      for (const name of ["p1", "p2"]) {
        // The record is out: each peer applies it, or catches up to it over sync.
        const applied = await until(
          `${name} applying record ${again.window}`,
          () => records(name).find((r) => r.window === again.window),
          after(4),
        );
        assertEquals(applied.modelHash, again.modelHash, `${name}'s model after ${again.window}`);
      }
    } finally {
      await stopProcesses(children, 10_000);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "role processes with a quorum: a peer that knew only a validator's old address finds it again on its new port",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await identityReady();
    const dir = await Deno.makeTempDir({ prefix: "webloco-rediscover-q-" });
    const seed = (n: number) => new Uint8Array(32).fill(n);
    const keys = await Promise.all(
      [71, 72, 73].map((n, i) => writeKeyFile(`${dir}/v${i}.json`, { seed: seed(n) })),
    );
    await writeKeyFile(`${dir}/p.json`, { seed: seed(74) });
    const genesis = localGenesis({
      name: "rediscover-quorum",
      validators: keys.map((k) => k.address),
      genesisTime: Date.now() + 15_000,
      windowMs: 5_000,
      sparseloco: { H: 3 },
      data: { batch: 2 },
      quorum: { votes: 2, fallbackMs: 1_500 },
    });
    await Deno.writeTextFile(`${dir}/genesis.json`, JSON.stringify(genesis));
    const common = (name: string) => [
      ...["--genesis", `${dir}/genesis.json`, "--key", `${dir}/${name}.json`],
      ...["--data-dir", `${dir}/${name}`],
    ];
    const loopback = ["--listen", "/ip4/127.0.0.1/tcp/0"];
    const watch = new RoleWatch(Infinity);
    const until = <T>(what: string, find: () => T | undefined | false, deadline: number) =>
      pollUntil(what, find, { deadline, logs: watch.logs });
    const listening = (what: string, name: string) =>
      until(what, () => watch.listening(name), Date.now() + START_MS);
    const after = (n: number, from?: number) => windowsAfter(genesis, n, from);
    const records = (name: string) =>
      watch.events(name).filter((e): e is AppliedEvent => e.event === "applied");
    /** The peer's connection count in its newest status line. */
    const connections = () =>
      watch.events("p").findLast((e) => e.event === "status")?.connections ?? 0;
    const children: Deno.ChildProcess[] = [];
    try {
      children.push(spawnRole(watch, "v0", "validator", [...common("v0"), ...loopback]));
      const v0Old = tcpOf((await listening("v0 listening", "v0")).addresses);
      for (const i of [1, 2]) {
        children.push(spawnRole(watch, `v${i}`, "validator", [
          ...common(`v${i}`),
          ...loopback,
          ...["--bootstrap", v0Old],
        ]));
      }
      // Dial-only, and it knows v0's address only: the others it hears of through v0.
      children.push(spawnRole(watch, "p", "peer", [
        ...common("p"),
        ...["--listen", "none", "--bootstrap", v0Old],
      ]));
      for (const n of ["v1", "v2", "p"]) await listening(`${n} started`, n);
      await until("the peer connected to all three validators", () => connections() >= 3, after(4));
      await until("a record on the peer", () => records("p").length > 0, after(6));

      // v0 stopped, started again from its data directory on a new port: the peer's bootstrap
      // and book still name the old one.
      await stopRole(children[0]);
      const stoppedAt = Date.now();
      await until("the peer seeing v0 gone", () => connections() <= 2, Date.now() + 20_000);
      children[0] = spawnRole(watch, "v0b", "validator", [...common("v0"), ...loopback]);
      const v0New = tcpOf((await listening("v0 listening again", "v0b")).addresses);
      assert(portOf(v0New) !== portOf(v0Old), `a new port: ${v0New} after ${v0Old}`);
      const startedAt = Date.now();
      // It dials v1 and v2 from its book; its signed announcement, relayed by them, gives the
      // peer the new address, and the peer dials it.
      await until("the peer connected to v0 again", () => connections() >= 3, after(4));
      const foundMs = Date.now() - startedAt;
      const book = await Deno.readTextFile(`${dir}/p/${ADDRESS_BOOK_NAME}`).catch(() => "");
      const back = await until(
        "a record counted on v0 after its restart, applied by the peer on the same hash",
        () =>
          records("v0b").find((r) =>
            records("p").some((q) => q.window === r.window && q.modelHash === r.modelHash)
          ),
        after(6),
      );
      console.log(
        `rediscover (quorum): v0 back on a new port ${
          ((startedAt - stoppedAt) / 1000).toFixed(1)
        } s after its stop; the dial-only peer connected to it ${
          (foundMs / 1000).toFixed(1)
        } s after it listened; record ${back.window} on both` +
          (book.includes(portOf(v0New)) ? "; the peer's book names the new port" : ""),
      );
    } finally {
      await stopProcesses(children, 10_000);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
