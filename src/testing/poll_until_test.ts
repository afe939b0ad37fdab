import { assert, assertEquals, assertRejects } from "./assert.ts";
import { pollUntil } from "./poll_until.ts";

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
