/**
 * `deno task genesis`: writes the genesis of a local run, or checks a genesis file and prints
 * its run id.
 *
 *   deno task genesis --out FILE --validator ADDRESS [--validator …] [--bootstrap MULTIADDR …]
 *                     [--name local] [--window-ms 30000] [--start MS]
 *   deno task genesis --check FILE
 *
 * `--start` is window 0's start in ms since the epoch (default: now, rounded up to a second).
 *
 * @module
 */
import { numberFlag, parseFlags, runCli, UsageError } from "./cli.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { hex } from "../util/hex.ts";
import { runIdOf } from "../protocol/genesis.ts";
import { readGenesisFile } from "./genesis_file.ts";
import { localGenesis } from "../protocol/local_genesis.ts";

const USAGE = "usage: deno task genesis --out FILE --validator ADDRESS [--validator …] " +
  "[--bootstrap MULTIADDR …] [--name local] [--window-ms 30000] [--start MS]\n" +
  "       deno task genesis --check FILE";

async function main(args: string[]): Promise<void> {
  const a = parseFlags({
    args,
    options: {
      out: { type: "string" },
      check: { type: "string" },
      validator: { type: "string", multiple: true, default: [] },
      bootstrap: { type: "string", multiple: true, default: [] },
      name: { type: "string" },
      "window-ms": { type: "string" },
      start: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  }, "see --help").values;
  if (a.help) return console.log(USAGE);
  if (a.check !== undefined) {
    if (a.out !== undefined) throw new UsageError("--check and --out do not go together");
    const g = await readGenesisFile(a.check);
    console.error(
      `${a.check}: run "${g.name}", ${g.validators.length} validator(s), window ${g.windowMs} ms`,
    );
    console.log(hex(runIdOf(g)));
    return;
  }
  if (a.out === undefined) {
    throw new UsageError(`--out FILE or --check FILE is required (see --help)`);
  }
  if (a.validator.length === 0) {
    throw new UsageError("at least one --validator ADDRESS is required");
  }
  const genesis = localGenesis({
    validators: a.validator,
    bootstrap: a.bootstrap,
    name: a.name,
    windowMs: numberFlag("window-ms", a["window-ms"], 30_000, { integer: true, min: 0 }),
    genesisTime: numberFlag("start", a.start, Math.ceil(Date.now() / 1000) * 1000, {
      integer: true,
      min: 0,
    }),
  });
  await writeFileAtomic(a.out, JSON.stringify(genesis, null, 2) + "\n", { createNew: true })
    .catch((e) => {
      throw e instanceof Deno.errors.AlreadyExists
        ? new UsageError(`${a.out}: already exists; refusing to overwrite a genesis file`)
        : e;
    });
  console.error(`wrote ${a.out}`);
  console.log(hex(runIdOf(genesis)));
}

if (import.meta.main) await runCli(() => main(Deno.args));
