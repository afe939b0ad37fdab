/**
 * Deno-only: a {@linkcode StateStore} as the files of a folder (a role's data directory):
 * a name is a file, a sub-store a sub-folder, `put` an atomic write (temporary file, then
 * rename), `quarantine` a rename.
 *
 * @module
 */

import { syncFolder, writeFileAtomic } from "../util/atomic_write.ts";
import {
  checkName,
  type PutOptions,
  StateError,
  type StateStore,
} from "../protocol/state_store.ts";

/** The files of one folder. */
export class FileStore implements StateStore {
  /** The folder. */
  readonly where: string;
  #made: Promise<void> | null = null;
  /** The folder's own entry flushed in its parent (before its first durable file counts). */
  #synced: Promise<void> | null = null;

  private constructor(path: string) {
    this.where = path;
  }

  /** Opens (creating) the folder. Throws `StateError` if it exists and is not a folder. */
  static async open(path: string): Promise<FileStore> {
    try {
      await Deno.mkdir(path, { recursive: true });
    } catch (e) {
      throw new StateError(`${path}: cannot create the data directory (${(e as Error).message})`);
    }
    return new FileStore(path);
  }

  async get(name: string): Promise<Uint8Array | null> {
    try {
      return await Deno.readFile(this.#path(name));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
  }

  async put(name: string, bytes: Uint8Array, options: PutOptions = {}): Promise<void> {
    const path = this.#path(name);
    // A sub-folder appears with its first file; once per store, unless it fails.
    this.#made ??= Deno.mkdir(this.where, { recursive: true }).catch((e) => {
      this.#made = null;
      throw e;
    });
    await this.#made;
    if (options.durable && Deno.build.os !== "windows") {
      // A durable file is lost with a folder whose creation was not on the disk yet (`votes/`).
      this.#synced ??= syncFolder(this.where).catch((e) => {
        this.#synced = null;
        throw e;
      });
      await this.#synced;
    }
    try {
      await writeFileAtomic(path, bytes, { sync: options.durable });
    } catch (e) {
      // The atomic write left the previous file whole: say so, in words an operator acts on.
      if ((e as { code?: string }).code !== "ENOSPC") throw e;
      throw new StateError(
        `disk full while saving ${path} (${bytes.length} bytes); the previous version is kept`,
      );
    }
  }

  async list(): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(this.where)) if (e.isFile) names.push(e.name);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return names;
  }

  async delete(name: string): Promise<void> {
    try {
      await Deno.remove(this.#path(name));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  async quarantine(name: string, at = Date.now()): Promise<string> {
    const to = `${name}.bad-${at}`;
    await Deno.rename(this.#path(name), this.#path(to));
    return to;
  }

  sub(folder: string): StateStore {
    return new FileStore(this.#path(folder));
  }

  #path(name: string): string {
    checkName(name);
    return `${this.where}/${name}`;
  }
}
