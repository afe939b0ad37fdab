/**
 * Deno-only: the one way files are written whole. The bytes go to a temporary file in the same
 * folder, which then takes the target's name in one step, so a reader or a restart after a
 * crash sees the old file or the new one, never part of one.
 *
 * @module
 */

/** How {@linkcode writeFileAtomic} writes. */
export interface AtomicWriteOptions {
  /**
   * Permission bits from the first byte on (the temporary file is created with them, and
   * chmod-ed in case the umask took owner bits away): a secret is never readable by others.
   */
  mode?: number;
  /**
   * Never replace an existing file: the final step is a hard link, which fails with
   * `Deno.errors.AlreadyExists`, so the check and the creation are one atomic step.
   */
  createNew?: boolean;
  /**
   * Durable: flush the bytes to the disk before the file appears, and the folder after it
   * appeared (the new name itself is on the disk only once its folder is synced), so a power
   * loss after the write resolves cannot lose it.
   */
  sync?: boolean;
}

/** Writes `data` to `path` atomically (see the module doc and {@linkcode AtomicWriteOptions}). */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  let renamed = false; // else the temporary file (or, after a link, its second name) goes
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true, mode: options.mode });
    try {
      for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
      if (options.sync) await f.sync();
    } finally {
      f.close();
    }
    if (options.mode !== undefined && Deno.build.os !== "windows") {
      await Deno.chmod(tmp, options.mode);
    }
    if (options.createNew) await Deno.link(tmp, path);
    else {
      await Deno.rename(tmp, path);
      renamed = true;
    }
    if (options.sync && Deno.build.os !== "windows") await syncFolder(path);
  } finally {
    if (!renamed) await Deno.remove(tmp).catch(() => {});
  }
}

/** Flushes the folder holding `path` (its entries: a name just linked or renamed there). */
export async function syncFolder(path: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = await Deno.open(slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash), {
    read: true,
  });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}
