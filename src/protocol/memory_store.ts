/**
 * A {@linkcode StateStore} in memory: what tests use, and what a browser without IndexedDB
 * keeps (gone when the page is).
 *
 * @module
 */

import { checkName, type StateStore } from "./state_store.ts";

/** Named blobs in a map; sub-folders share it under a `folder/` prefix. */
export class MemoryStore implements StateStore {
  /** Its name in messages. */
  readonly where: string;
  #blobs = new Map<string, Uint8Array>();
  #prefix = "";

  /** An empty store; `where` names it in messages. */
  constructor(where = "memory") {
    this.where = where;
  }

  // Settled as promises (a bad name rejects, never throws), as a store on a disk would.

  get(name: string): Promise<Uint8Array | null> {
    return settle(() => this.#blobs.get(this.#key(name))?.slice() ?? null);
  }

  put(name: string, bytes: Uint8Array): Promise<void> {
    return settle(() => void this.#blobs.set(this.#key(name), bytes.slice()));
  }

  list(): Promise<string[]> {
    return settle(() =>
      [...this.#blobs.keys()]
        .filter((k) => k.startsWith(this.#prefix) && !k.includes("/", this.#prefix.length))
        .map((k) => k.slice(this.#prefix.length))
    );
  }

  delete(name: string): Promise<void> {
    return settle(() => void this.#blobs.delete(this.#key(name)));
  }

  quarantine(name: string, at = Date.now()): Promise<string> {
    return settle(() => {
      const b = this.#blobs.get(this.#key(name));
      if (b === undefined) throw new Error(`${this.where}/${name}: not found`);
      const to = `${name}.bad-${at}`;
      this.#blobs.set(this.#key(to), b);
      this.#blobs.delete(this.#key(name));
      return to;
    });
  }

  sub(folder: string): StateStore {
    checkName(folder);
    const s = new MemoryStore(`${this.where}/${folder}`);
    s.#blobs = this.#blobs;
    s.#prefix = `${this.#prefix}${folder}/`;
    return s;
  }

  #key(name: string): string {
    checkName(name);
    return this.#prefix + name;
  }
}

function settle<R>(f: () => R): Promise<R> {
  return new Promise((resolve) => resolve(f()));
}
