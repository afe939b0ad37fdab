import { assert, assertEquals } from "../testing/assert.ts";
import { DataError } from "./errors.ts";

Deno.test("DataError is an Error named DataError with a cause", () => {
  const cause = new Error("inner");
  const e = new DataError("a.bin: bad magic 1", { cause });
  assert(e instanceof Error);
  assertEquals([e.name, e.message, e.cause], ["DataError", "a.bin: bad magic 1", cause]);
});
