/**
 * Deno-only: reads a genesis file and the files it names (tokenizer, corpus), checking their
 * SHA-256. Browsers call `parseGenesis` on text they fetched.
 *
 * @module
 */

import { sha256Sync } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { type FileRef, type Genesis, GenesisError, parseGenesis } from "../protocol/genesis.ts";

/** Largest genesis file read (a genesis is a few KiB; the corpus list can make it longer). */
const MAX_GENESIS_BYTES = 4 * 1024 * 1024;

/** Reads and validates a genesis file; every problem is a one-line {@linkcode GenesisError} naming `path`. */
export async function readGenesisFile(path: string): Promise<Genesis> {
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new GenesisError(`${path}: not a regular file`);
    if (info.size > MAX_GENESIS_BYTES) {
      throw new GenesisError(`${path}: ${info.size} bytes is too large for a genesis file`);
    }
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof GenesisError) throw e;
    if (e instanceof Deno.errors.NotFound) throw new GenesisError(`${path}: no such genesis file`);
    throw new GenesisError(`${path}: cannot read the genesis file (${(e as Error).name})`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new GenesisError(`${path}: not UTF-8 text`);
  }
  return parseGenesis(text, path);
}

/**
 * Where a file a genesis names is on this machine: its path relative to the genesis file's
 * folder (or absolute); `null` for an http(s) URL.
 */
export function genesisRefPath(genesisPath: string, ref: FileRef): string | null {
  if (/^https?:\/\//i.test(ref.path)) return null;
  const dir = genesisPath.includes("/")
    ? genesisPath.slice(0, genesisPath.lastIndexOf("/") + 1)
    : "";
  return ref.path.startsWith("/") ? ref.path : dir + ref.path;
}

/**
 * Reads a file a genesis names (`field` is where, e.g. "tokenizer" or "data.corpus[2]"),
 * relative to the genesis file's folder (or an http(s) URL), and checks its SHA-256. When it
 * is not there and `contentDir` is given, the copy downloaded from the run,
 * `<contentDir>/<sha256>`, is read instead. Throws {@linkcode GenesisError}.
 */
export async function readGenesisRef(
  genesisPath: string,
  field: string,
  ref: FileRef,
  contentDir?: string,
): Promise<Uint8Array> {
  const local = genesisRefPath(genesisPath, ref);
  const file = local ?? ref.path;
  let bytes: Uint8Array;
  try {
    if (local !== null) bytes = await readLocal(local, contentDir, ref);
    else {
      const res = await fetch(ref.path);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      bytes = new Uint8Array(await res.arrayBuffer());
    }
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : (e as Error).message.split("\n")[0];
    throw new GenesisError(
      `${genesisPath}: ${field}.path ${JSON.stringify(ref.path)}: cannot read ${file} (${why})`,
    );
  }
  const got = hex(sha256Sync(bytes));
  if (got !== ref.sha256) {
    throw new GenesisError(
      `${genesisPath}: ${field}.path ${
        JSON.stringify(ref.path)
      }: SHA-256 is ${got}, the genesis says ${ref.sha256}`,
    );
  }
  if (ref.bytes !== undefined && bytes.length !== ref.bytes) {
    throw new GenesisError(
      `${genesisPath}: ${field}.path ${
        JSON.stringify(ref.path)
      }: ${bytes.length} bytes, the genesis says ${ref.bytes}`,
    );
  }
  return bytes;
}

async function readLocal(path: string, contentDir: string | undefined, ref: FileRef) {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) || contentDir === undefined) throw e;
    return await Deno.readFile(`${contentDir}/${ref.sha256}`).catch(() => {
      throw e;
    });
  }
}
