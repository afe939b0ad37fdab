/**
 * `deno task keygen`: creates an sr25519 key file (owner-only, never overwritten) and prints
 * its SS58 address.
 *
 *   deno task keygen --out FILE [--ss58 42] [--words 12|24]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { mnemonicGenerate } from "@polkadot/util-crypto";
import { identityReady } from "../identity/signer.ts";
import { writeKeyFile } from "../identity/key_file.ts";
import { IdentityError } from "../identity/errors.ts";

const USAGE = "usage: deno task keygen --out FILE [--ss58 42] [--words 12|24]";

class UsageError extends Error {}

async function main(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        out: { type: "string" },
        ss58: { type: "string", default: "42" },
        words: { type: "string", default: "12" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (${USAGE})`);
  }
  const a = parsed.values;
  if (a.help) {
    console.log(USAGE);
    return;
  }
  if (!a.out) throw new UsageError(`--out FILE is required (${USAGE})`);
  const ss58 = Number(a.ss58);
  if (!/^\d+$/.test(a.ss58 ?? "")) {
    throw new UsageError(`--ss58 must be an integer, got "${a.ss58}"`);
  }
  if (a.words !== "12" && a.words !== "24") {
    throw new UsageError(`--words must be 12 or 24, got "${a.words}"`);
  }
  await identityReady();
  const signer = await writeKeyFile(a.out, {
    mnemonic: mnemonicGenerate(Number(a.words) as 12 | 24),
  }, ss58);
  console.error(`wrote ${a.out} (mode 0600); it holds the secret: keep a copy somewhere safe`);
  console.log(signer.address);
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    if (e instanceof UsageError || e instanceof IdentityError) {
      console.error(`error: ${e.message}`);
      Deno.exit(1);
    }
    throw e;
  }
}
