/**
 * A {@linkcode StateStore} in the browser's IndexedDB: what a browser peer keeps across a
 * reload or a crash (θ, error feedback, round records, its keys). Every blob is one record of
 * one object store, keyed by its path (`folder/…/name`); each `put` is its own transaction,
 * committed with `durability: "strict"`, so a tab that dies mid-write leaves the old blob or
 * the new one, never half of either. Runtime-neutral (no DOM, no Deno): it needs only
 * `indexedDB`, which pages and workers both have.
 *
 * @module
 */

import { checkName, type StateStore } from "./state_store.ts";

/** The one object store of the database. */
const BLOBS = "blobs";

/** Named blobs in one IndexedDB database; sub-folders share it under a `folder/` prefix. */
export class IdbStore implements StateStore {
  /** `indexeddb:<database>` and the folder, for messages. */
  readonly where: string;
  readonly #db: IDBDatabase;
  readonly #prefix: string;

  private constructor(db: IDBDatabase, prefix: string) {
    this.#db = db;
    this.#prefix = prefix;
    this.where = `indexeddb:${db.name}${prefix === "" ? "" : `/${prefix.slice(0, -1)}`}`;
  }

  /** Opens (or creates) database `name`. Throws when this context has no IndexedDB. */
  static async open(name: string): Promise<IdbStore> {
    if (typeof indexedDB === "undefined") throw new Error("this browser has no IndexedDB");
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(BLOBS);
    const db = await done(req, `indexeddb:${name}: cannot open`);
    // Another tab upgrading the schema must not wait on this one forever.
    db.onversionchange = () => db.close();
    return new IdbStore(db, "");
  }

  /** Closes the database; the store is unusable afterwards. */
  close(): void {
    this.#db.close();
  }

  async get(name: string): Promise<Uint8Array | null> {
    const key = this.#key(name);
    const v = await done(this.#tx("readonly").get(key), this.#what(name));
    return v === undefined ? null : new Uint8Array(v as Uint8Array);
  }

  async put(name: string, bytes: Uint8Array): Promise<void> {
    const key = this.#key(name);
    const tx = this.#db.transaction(BLOBS, "readwrite", { durability: "strict" });
    tx.objectStore(BLOBS).put(bytes.slice(), key);
    await committed(tx, this.#what(name));
  }

  async list(): Promise<string[]> {
    const p = this.#prefix;
    // Every key under the prefix; "\uffff" sorts after any name character.
    const range = IDBKeyRange.bound(p, `${p}\uffff`);
    const keys = await done(this.#tx("readonly").getAllKeys(range), this.#what(""));
    return keys.map(String)
      .filter((k) => k.startsWith(p) && !k.includes("/", p.length))
      .map((k) => k.slice(p.length));
  }

  async delete(name: string): Promise<void> {
    const key = this.#key(name);
    const tx = this.#db.transaction(BLOBS, "readwrite", { durability: "strict" });
    tx.objectStore(BLOBS).delete(key);
    await committed(tx, this.#what(name));
  }

  async quarantine(name: string, at = Date.now()): Promise<string> {
    const key = this.#key(name);
    const to = `${name}.bad-${at}`;
    // One transaction: the blob is under its old name or its new one, never both or neither.
    const tx = this.#db.transaction(BLOBS, "readwrite", { durability: "strict" });
    const store = tx.objectStore(BLOBS);
    const req = store.get(key);
    let found = true;
    req.onsuccess = () => {
      if (req.result === undefined) {
        found = false;
        tx.abort();
        return;
      }
      store.put(req.result, this.#prefix + to);
      store.delete(key);
    };
    try {
      await committed(tx, this.#what(name));
    } catch (e) {
      if (!found) throw new Error(`${this.#what(name)}: not found`);
      throw e;
    }
    return to;
  }

  sub(folder: string): StateStore {
    checkName(folder);
    return new IdbStore(this.#db, `${this.#prefix}${folder}/`);
  }

  #key(name: string): string {
    checkName(name);
    return this.#prefix + name;
  }

  #what(name: string): string {
    return name === "" ? this.where : `${this.where}/${name}`;
  }

  #tx(mode: IDBTransactionMode): IDBObjectStore {
    return this.#db.transaction(BLOBS, mode).objectStore(BLOBS);
  }
}

/** The result of `req`, or its error as one line prefixed with `what`. */
function done<R>(req: IDBRequest<R>, what: string): Promise<R> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`${what}: ${req.error?.message ?? "request failed"}`));
  });
}

/** Resolves when `tx` has committed; rejects when it aborts or fails. */
function committed(tx: IDBTransaction, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(new Error(`${what}: ${tx.error?.message ?? "transaction aborted"}`));
  });
}
