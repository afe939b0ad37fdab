/**
 * What every command-line entry point shares: flag parsing that turns a mistake into a
 * {@linkcode UsageError}, number flags checked with one message shape, and {@linkcode runCli},
 * which ends a user mistake with one line and exit code 1, never a stack.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "../model/config.ts";
import { DataError } from "../data/errors.ts";
import { GpuUnavailableError } from "../gpu/device.ts";
import { IdentityError } from "../identity/errors.ts";
import { StateError } from "../protocol/state_store.ts";

/** Errors that are the user's to fix and print as `error: <message>`. */
export class UsageError extends Error {
  /** "UsageError". */
  override name = "UsageError";
}

const USER_ERRORS = [
  ConfigError,
  DataError,
  GpuUnavailableError,
  IdentityError,
  StateError,
  UsageError,
];

/** Runs `main`; user errors print one line and exit 1, anything else keeps its stack (exit 2). */
export async function runCli(main: () => void | Promise<void>): Promise<never> {
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

/**
 * `parseArgs` whose errors are
 * {@linkcode UsageError}s, followed by ` (hint)` when a hint is given (the usage line, or
 * "see --help").
 */
export function parseFlags<T extends ParseArgsConfig>(
  config: T,
  hint?: string,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    const message = (e as Error).message;
    throw new UsageError(hint === undefined ? message : `${message} (${hint})`);
  }
}

/** The flag declarations of `parseArgs`. */
type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

/** The `-h`/`--help` flag of {@linkcode parseCommandFlags}. */
const HELP_FLAG = { help: { type: "boolean", short: "h" } } as const;

/** The config {@linkcode parseCommandFlags} hands to `parseArgs`. */
type CommandConfig<O extends FlagOptions> = {
  args: string[];
  options: O & typeof HELP_FLAG;
  strict: true;
  allowPositionals: false;
};

/**
 * The flags of a command that takes flags only (no positionals) and `-h`/`--help`: parsed
 * strictly with {@linkcode parseFlags}, the usage line as hint. `null` once `usage` is
 * printed for `--help`: the command has nothing more to do.
 */
export function parseCommandFlags<O extends FlagOptions>(
  args: string[],
  options: O,
  usage: string,
): ReturnType<typeof parseArgs<CommandConfig<O>>>["values"] | null {
  const config: CommandConfig<O> = {
    args,
    options: { ...options, ...HELP_FLAG },
    strict: true,
    allowPositionals: false,
  };
  const values = parseFlags(config, usage).values;
  // parseArgs' value types resolve only for a concrete O; `help` is always declared.
  if ((values as { help?: boolean }).help) {
    console.log(usage);
    return null;
  }
  return values;
}

/** What a number flag may hold. */
export interface NumberRule {
  /** Whole numbers only. */
  integer: boolean;
  /** The least value allowed (inclusive); absent: anything above 0. */
  min?: number;
}

/**
 * The value of number flag `--name` given as `text`: `fallback` when absent. Throws
 * {@linkcode UsageError} (`--name must be a positive integer, got "x"`) unless it is a number
 * that keeps `rule`.
 */
export function numberFlag(
  name: string,
  text: string | undefined,
  fallback: number,
  rule: NumberRule,
): number {
  if (text === undefined) return fallback;
  const n = text.trim() === "" ? NaN : Number(text);
  const kind = rule.integer ? "integer" : "number";
  const ok = (rule.integer ? Number.isSafeInteger(n) : Number.isFinite(n)) &&
    (rule.min === undefined ? n > 0 : n >= rule.min);
  if (!ok) {
    const what = rule.min === undefined
      ? `a positive ${kind}`
      : rule.min === 0
      ? `a non-negative ${kind}`
      : `${rule.integer ? "an" : "a"} ${kind} ≥ ${rule.min}`;
    throw new UsageError(`--${name} must be ${what}, got "${text}"`);
  }
  return n;
}
