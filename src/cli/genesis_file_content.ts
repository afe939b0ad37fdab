/**
 * Deno-only: the files a genesis names (tokenizer, corpus shards) as a node holds and serves
 * them. A file is at hand beside the genesis file (as its `path` says) or in the data
 * directory's `content/<sha256>`, where a download from the run puts it: chunks go to
 * `content/<sha256>.part`, which survives a restart (the next start resumes it) and becomes
 * `content/<sha256>` in one rename once its SHA-256 is checked.
 *
 * @module
 */

import { createDenoNode } from "../net/deno_node.ts";
import type { ContentSource, PartialContent } from "../net/content_protocol.ts";
import type { NetError } from "../net/errors.ts";
import type { WeblocoNode } from "../net/node.ts";
import { type FileRef, type Genesis, GenesisError, runIdOf } from "../protocol/genesis.ts";
import { genesisRefPath } from "./genesis_file.ts";

/** One file a genesis names, and where in the genesis. */
export interface GenesisFile {
  /** `tokenizer` or `data.corpus[i]`. */
  field: string;
  /** The reference. */
  ref: FileRef;
}

/** The files `genesis` names (none for the bytes tokenizer and the default corpus). */
export function genesisFiles(genesis: Genesis): GenesisFile[] {
  const out: GenesisFile[] = [];
  if (genesis.tokenizer !== "bytes") out.push({ field: "tokenizer", ref: genesis.tokenizer });
  if (genesis.data.corpus !== "default") {
    genesis.data.corpus.forEach((ref, i) => out.push({ field: `data.corpus[${i}]`, ref }));
  }
  return out;
}

/** A node's genesis files: what it serves, and where downloads go. */
export class ContentDir implements ContentSource {
  /** `<data dir>/content`. */
  readonly dir: string;
  readonly #held = new Map<string, string>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** The content folder of `dataDir` (created if needed). */
  static async open(dataDir: string): Promise<ContentDir> {
    const dir = `${dataDir.replace(/\/+$/, "")}/content`;
    await Deno.mkdir(dir, { recursive: true });
    return new ContentDir(dir);
  }

  /** Serves the file at `path` as `sha256` (the caller has it checked, or will before use). */
  hold(sha256: string, path: string): void {
    this.#held.set(sha256, path);
  }

  /** Whether `sha256` is held. */
  holds(sha256: string): boolean {
    return this.#held.has(sha256);
  }

  /** {@linkcode ContentSource.size}: the length of a held file. */
  async size(sha256: string): Promise<number | undefined> {
    const path = this.#held.get(sha256);
    if (path === undefined) return undefined;
    return await Deno.stat(path).then((s) => s.size, () => undefined);
  }

  /** {@linkcode ContentSource.read}: bytes of a held file. */
  async read(sha256: string, offset: number, length: number): Promise<Uint8Array> {
    const path = this.#held.get(sha256);
    if (path === undefined) throw new Error(`${sha256.slice(0, 16)}… is not held`);
    return await readRange(path, offset, length);
  }

  /** Where a download of `sha256` goes: `<sha256>.part`, then `<sha256>`. */
  partial(sha256: string): PartialContent {
    const part = `${this.dir}/${sha256}.part`, done = `${this.dir}/${sha256}`;
    const length = () => Deno.stat(part).then((s) => s.size, () => 0);
    return {
      length,
      read: (offset, len) => readRange(part, offset, len),
      async append(bytes) {
        const f = await Deno.open(part, { append: true, create: true });
        try {
          for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
        } finally {
          f.close();
        }
      },
      async truncate(n) {
        if (n < await length()) await Deno.truncate(part, n);
      },
      complete: async () => {
        const f = await Deno.open(part, { write: true });
        try {
          await f.sync();
        } finally {
          f.close();
        }
        await Deno.rename(part, done);
        this.hold(sha256, done);
      },
    };
  }
}

async function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  const f = await Deno.open(path, { read: true });
  try {
    await f.seek(offset, Deno.SeekMode.Start);
    const out = new Uint8Array(length);
    for (let got = 0; got < length;) {
      const n = await f.read(out.subarray(got));
      if (n === null) return out.subarray(0, got);
      got += n;
    }
    return out;
  } finally {
    f.close();
  }
}

/** Options of {@linkcode prepareGenesisContent}. */
export interface PrepareOptions {
  /** The run. */
  genesis: Genesis;
  /** Its file (references are relative to its folder). */
  genesisPath: string;
  /** The node's data directory (downloads go to its `content/`). */
  dataDir: string;
  /** Where to fetch missing files from: the genesis' bootstrap list and the command line's. */
  bootstrap: readonly string[];
  /** Progress and failures, one line each. */
  log: (line: string) => void;
  /** How long to keep trying while no source delivers (default 120 s). */
  timeoutMs?: number;
}

const MIB = 1024 * 1024;

/**
 * The node's {@linkcode ContentDir} holding every file `genesis` names: those at hand are
 * served as they are (the run's loader checks their SHA-256 before use), the others are
 * downloaded from the bootstrap nodes over the content protocol first, with progress lines.
 * Throws {@linkcode GenesisError} when a file cannot be had.
 */
export async function prepareGenesisContent(o: PrepareOptions): Promise<ContentDir> {
  const content = await ContentDir.open(o.dataDir);
  const missing: GenesisFile[] = [];
  for (const f of genesisFiles(o.genesis)) {
    const local = genesisRefPath(o.genesisPath, f.ref);
    const downloaded = `${content.dir}/${f.ref.sha256}`;
    if (local !== null && await isFile(local)) content.hold(f.ref.sha256, local);
    else if (await isFile(downloaded)) content.hold(f.ref.sha256, downloaded);
    else if (local !== null && !content.holds(f.ref.sha256)) missing.push(f);
  }
  if (missing.length === 0) return content;
  if (o.bootstrap.length === 0) {
    throw new GenesisError(
      `${o.genesisPath}: ${missing[0].field} ${JSON.stringify(missing[0].ref.path)} is not at ` +
        "hand and there is no bootstrap address to fetch it from (--bootstrap MULTIADDR)",
    );
  }
  // A node of its own, for as long as the downloads take: the role's node needs the data first.
  const node = await createDenoNode({
    runId: runIdOf(o.genesis),
    validate: () => "ignore",
    listen: [],
    content: { source: content },
  });
  try {
    for (const f of missing) {
      if (!content.holds(f.ref.sha256)) await download(node, content, f, o);
    }
  } finally {
    await node.stop();
  }
  return content;
}

async function download(
  node: WeblocoNode,
  content: ContentDir,
  f: GenesisFile,
  o: PrepareOptions,
): Promise<void> {
  const name = `${f.field} ${JSON.stringify(f.ref.path)}`;
  const end = Date.now() + (o.timeoutMs ?? 120_000);
  let lastLine = 0, attempts = 0;
  for (;;) {
    try {
      await node.libp2p.services.content.download(
        o.bootstrap,
        f.ref.sha256,
        content.partial(f.ref.sha256),
        {
          expectedBytes: f.ref.bytes,
          onProgress: (done, total, from) => {
            if (done < total && Date.now() - lastLine < 1_000) return;
            lastLine = Date.now();
            o.log(
              `fetching ${name}: ${(done / MIB).toFixed(1)} of ${(total / MIB).toFixed(1)} MiB` +
                ` from ${String(from).slice(-12)}`,
            );
          },
          onProviderError: (from, e: NetError) => {
            if (e.code === "hash_mismatch") {
              o.log(`fetching ${name}: refused ${String(from)}: ${e.message}`);
            }
          },
        },
      );
      o.log(`fetched ${name} (${f.ref.sha256.slice(0, 12)}…) into ${content.dir}`);
      return;
    } catch (e) {
      const why = (e as Error).message;
      if (Date.now() > end) {
        throw new GenesisError(`${o.genesisPath}: cannot fetch ${name} from the run: ${why}`);
      }
      if (attempts++ % 10 === 0) o.log(`fetching ${name}: ${why}; retrying`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

async function isFile(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isFile, () => false);
}
