import { assert, assertEquals } from "../testing/assert.ts";
import type { RoleStatus } from "../roles/role_events.ts";
import { COLUMNS, LiveView } from "./live_view.ts";

function status(patch: Partial<RoleStatus>): RoleStatus {
  return {
    event: "status",
    role: "peer",
    address: "5Grw",
    window: 3,
    phase: "training",
    step: 12,
    of: 30,
    loss: 5.4321,
    applied: 2,
    validLoss: null,
    modelHash: "0123456789ab",
    bytesUp: 1000,
    bytesDown: 5000,
    contributors: 3,
    connections: 2,
    standing: null,
    credit: null,
    ...patch,
  };
}

Deno.test("LiveView a header row, whole cells in aligned columns, per-round and total bytes", () => {
  const view = new LiveView({ tty: false, write: () => {}, plainEveryMs: 1e9 });
  try {
    const long = "collecting window 12345 (17 updates) and a phase longer than any column";
    view.add("validator", status({ role: "validator", phase: long, validLoss: 4.25 }));
    view.add("peer-0", status({}));
    // Record 3 applied: 3600 B up and 7200 B down since record 2.
    view.add("peer-0", status({ applied: 3, bytesUp: 4600, bytesDown: 12_200 }));
    view.add("peer-0", status({ applied: 4, bytesUp: 8200, bytesDown: 19_400, validLoss: 4.125 }));
    const [header, v, p] = view.table();
    for (const c of COLUMNS) assert(header.includes(c.title), `${c.title} missing from ${header}`);
    assert(v.includes(long), `the phase is cut short: ${v}`);
    assert(v.includes("4.250"), v);
    // Every column starts where its header starts (left-aligned ones) or ends where it ends.
    const at = (title: string) => header.indexOf(title);
    assertEquals(p.slice(at("phase"), at("phase") + "training".length), "training");
    const upRound = at("↑ round") + "↑ round".length;
    assertEquals(p.slice(upRound - "3.6 kB".length, upRound), "3.6 kB");
    const downTotal = at("↓ total") + "↓ total".length;
    assertEquals(p.slice(downTotal - "19.4 kB".length, downTotal), "19.4 kB");
    assert(p.includes("4.125") && p.includes("12/30"), p);
    // The validator has applied no record in view yet: no per-round bytes.
    assertEquals(v.slice(upRound - 1, upRound), "—");
    // A role's first record counts from the bytes it first showed.
    view.add(
      "validator",
      status({ role: "validator", applied: 3, bytesUp: 1500, bytesDown: 5000 }),
    );
    const v2 = view.table()[1];
    assertEquals(v2.slice(upRound - "500 B".length, upRound), "500 B");
  } finally {
    view.close();
  }
});
