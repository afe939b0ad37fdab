/**
 * `deno task keygen`: creates an sr25519 key file (owner-only, never overwritten) and prints
 * its SS58 address.
 *
 *   deno task keygen --out FILE [--ss58 42] [--words 12|24]
 *
 * @module
 */
import { mnemonicGenerate } from "@polkadot/util-crypto";
import { identityReady } from "../identity/signer.ts";
import { writeKeyFile } from "../identity/key_file.ts";
import { numberFlag, parseCommandFlags, runCli, UsageError } from "./cli.ts";

const USAGE = "usage: deno task keygen --out FILE [--ss58 42] [--words 12|24]";

async function main(args: string[]): Promise<void> {
  const a = parseCommandFlags(args, {
    out: { type: "string" },
    ss58: { type: "string" },
    words: { type: "string", default: "12" },
  }, USAGE);
  if (a === null) return;
  if (!a.out) throw new UsageError(`--out FILE is required (${USAGE})`);
  const ss58 = numberFlag("ss58", a.ss58, 42, { integer: true, min: 0 });
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

if (import.meta.main) await runCli(() => main(Deno.args));
