import { assert, assertEquals, assertRejects } from "./assert.ts";
import { pollSettled, pollUntil, windowsAfter } from "./poll_until.ts";

Deno.test("pollUntil returns what was found and times out with the last log lines", async () => {
  let n = 0;
  const deadline = Date.now() + 5_000;
  assertEquals(await pollUntil("the third poll", () => ++n === 3 && n, { deadline, logs: [] }), 3);
  const logs = ["a", "b", "c"];
  const e = await assertRejects(
    () =>
      pollUntil("nothing", () => false, { deadline: 0, logs, tail: 2, context: () => "so far" }),
    Error,
  );
  assertEquals(e.message, "timed out waiting for nothing (so far)\nb\nc");
  assert(Date.now() < deadline);
});

Deno.test("pollSettled returns the value, throws the rejection, times out on a pending promise", async () => {
  const o = { deadline: Date.now() + 5_000, logs: ["last"] };
  assertEquals(await pollSettled("a start", Promise.resolve(7), o), 7);
  await assertRejects(
    () => pollSettled("a start", Promise.reject(new Error("exited")), o),
    Error,
    "exited",
  );
  await assertRejects(
    () => pollSettled("a start", new Promise(() => {}), { ...o, deadline: 0 }),
    Error,
    "timed out waiting for a start\nlast",
  );
});

Deno.test("windowsAfter counts windows from a time, or from the genesis when that is later", () => {
  const genesis = { genesisTime: 10_000, windowMs: 5_000 };
  assertEquals(windowsAfter(genesis, 2, 20_000), 30_000);
  assertEquals(windowsAfter(genesis, 2, 1_000), 20_000);
});
