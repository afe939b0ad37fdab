/**
 * How every command-line entry point ends on a user mistake: one line, exit code 1, no stack.
 */
import { ConfigError } from "../model/config.ts";
import { DataError } from "../data/errors.ts";
import { GpuUnavailableError } from "../gpu/device.ts";

/** Errors that are the user's to fix and print as `error: <message>`. */
export class UsageError extends Error {
  override name = "UsageError";
}

const USER_ERRORS = [ConfigError, DataError, GpuUnavailableError, UsageError];

/** Runs `main`; user errors print one line and exit 1, anything else keeps its stack. */
export async function runCli(main: () => Promise<void>): Promise<never> {
  try {
    await main();
    Deno.exit(0);
  } catch (e) {
    if (USER_ERRORS.some((k) => e instanceof k)) {
      console.error(`error: ${(e as Error).message.replace(/\s*\n\s*/g, " ")}`);
      Deno.exit(1);
    }
    console.error(e);
    Deno.exit(2);
  }
}
