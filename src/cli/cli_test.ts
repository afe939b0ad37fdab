import { assert, assertEquals } from "../testing/assert.ts";
import { numberFlag, parseCommandFlags, parseFlags, UsageError } from "./cli.ts";

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert(e instanceof UsageError, `expected UsageError, got ${e}`);
    return e.message;
  }
  throw new Error("expected UsageError, nothing was thrown");
}

Deno.test("numberFlag returns the fallback, the value, or one line naming the flag", () => {
  const int = { integer: true };
  assertEquals(numberFlag("steps", undefined, 7, int), 7);
  assertEquals(numberFlag("steps", "12", 7, int), 12);
  assertEquals(numberFlag("lr", "3e-3", 1, { integer: false }), 3e-3);
  assertEquals(numberFlag("rounds", "0", 1, { integer: true, min: 0 }), 0);
  assertEquals(numberFlag("window-ms", "2000", 1, { integer: true, min: 2000 }), 2000);
  const positive = '--steps must be a positive integer, got "';
  for (const bad of ["0", "-3", "1.5", "x", "", " ", "1e400", "9007199254740993"]) {
    assertEquals(usageError(() => numberFlag("steps", bad, 7, int)), `${positive}${bad}"`);
  }
  assertEquals(
    usageError(() => numberFlag("lr", "0", 1, { integer: false })),
    '--lr must be a positive number, got "0"',
  );
  assertEquals(
    usageError(() => numberFlag("start", "-1", 0, { integer: true, min: 0 })),
    '--start must be a non-negative integer, got "-1"',
  );
  assertEquals(
    usageError(() => numberFlag("window-ms", "1999", 0, { integer: true, min: 2000 })),
    '--window-ms must be an integer ≥ 2000, got "1999"',
  );
});

Deno.test("parseFlags turns a parse error into a UsageError with the hint", () => {
  const options = { n: { type: "string" as const } };
  assertEquals(parseFlags({ args: ["--n", "3"], options, strict: true }).values.n, "3");
  const m = usageError(() => parseFlags({ args: ["--m"], options, strict: true }, "see --help"));
  assert(m.includes("--m") && m.endsWith(" (see --help)"), m);
  const bare = usageError(() => parseFlags({ args: ["--m"], options, strict: true }));
  assert(bare.includes("--m") && !bare.includes("(see --help)"), bare);
});

Deno.test("parseCommandFlags parses flags strictly, prints the usage for --help", () => {
  const usage = "usage: tool [--n N]";
  const options = { n: { type: "string" as const }, k: { type: "string" as const, default: "1" } };
  const a = parseCommandFlags(["--n", "3"], options, usage);
  assertEquals([a?.n, a?.k, a?.help], ["3", "1", undefined]);
  for (const bad of [["extra"], ["--m"], ["--n"]]) {
    assert(usageError(() => parseCommandFlags(bad, options, usage)).endsWith(` (${usage})`));
  }
  const printed: unknown[] = [];
  const log = console.log;
  console.log = (...xs: unknown[]) => printed.push(...xs);
  try {
    assertEquals(parseCommandFlags(["-h"], options, usage), null);
    assertEquals(parseCommandFlags(["--n", "3", "--help"], options, usage), null);
  } finally {
    console.log = log;
  }
  assertEquals(printed, [usage, usage]);
});
