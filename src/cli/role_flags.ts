/**
 * The flags of every process that joins a run as a node: `deno task peer|validator`
 * (`role_main.ts`) and the hostile test processes (`src/testing/attacker_main.ts`,
 * `dishonest_validator_main.ts`), declared once so
 * that an attacker is started exactly like a peer.
 *
 * @module
 */
import { UsageError } from "./cli.ts";

/**
 * The `parseArgs` declarations of `--genesis`, `--key`, `--data-dir` (all required),
 * `--bootstrap`/`--listen` (repeatable) and `--recompute` (a peer's trainer keeps only each
 * layer's input and recomputes the rest in the backward pass: less memory for one more forward
 * pass, the same bits, so it is the operator's choice and no run setting). A new object each
 * call: `parseArgs` hands the `default` arrays out as they are, and no two parses may share one.
 */
export function roleFlags() {
  return {
    genesis: { type: "string" },
    key: { type: "string" },
    "data-dir": { type: "string" },
    bootstrap: { type: "string", multiple: true, default: [] as string[] },
    listen: { type: "string", multiple: true, default: [] as string[] },
    recompute: { type: "boolean", default: false },
  } as const;
}

/** Throws {@linkcode UsageError} (ending in ` (usage)`) for the first required flag missing. */
export function requireRoleFlags(
  values: { genesis?: string; key?: string; "data-dir"?: string },
  usage: string,
): void {
  for (const k of ["genesis", "key", "data-dir"] as const) {
    if (values[k] === undefined) throw new UsageError(`--${k} is required (${usage})`);
  }
}
