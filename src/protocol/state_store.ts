/**
 * Where a role keeps what must survive a restart (its model state, round records,
 * checkpoints, payloads kept for joiners), as named blobs. Runtime-neutral: the roles and
 * the record log see only this interface; `src/cli/file_store.ts` keeps the blobs as files of
 * a data directory, {@linkcode MemoryStore} in memory (tests, a browser without IndexedDB).
 *
 * @module
 */

/** A state that cannot be used (corrupted, another run, unreadable); nothing is deleted. */
export class StateError extends Error {
  /** "StateError". */
  override name = "StateError";
}

/** How {@linkcode StateStore.put} writes. */
export interface PutOptions {
  /**
   * Flushed to the disk before `put` resolves (fsync of the file and its folder; IndexedDB's
   * strict durability): for what must never be forgotten once acted on, e.g. a validator's
   * vote, written before it is signed and sent.
   */
  durable?: boolean;
}

/**
 * Named blobs, in folders. A name is one path segment: not empty, no `/`, not `.` or `..`
 * (a name read from a file can never reach outside the store).
 */
export interface StateStore {
  /** Where the store is, for messages: a folder path, `memory`, a database name. */
  readonly where: string;
  /** The bytes stored under `name` (a copy), or null when there are none. */
  get(name: string): Promise<Uint8Array | null>;
  /**
   * Stores `bytes` under `name` atomically: a reader, or a restart, sees the old or the new.
   * With `durable`, on the disk before it resolves (a power loss cannot undo it).
   */
  put(name: string, bytes: Uint8Array, options?: PutOptions): Promise<void>;
  /** The names stored in this folder (not in its sub-folders), in no particular order. */
  list(): Promise<string[]>;
  /** Removes `name`; nothing happens when it is absent. */
  delete(name: string): Promise<void>;
  /**
   * Moves `name` aside as `<name>.bad-<at>` (default: now, in ms), kept for inspection, never
   * deleted; returns the new name. Blobs moved together share one `at`.
   */
  quarantine(name: string, at?: number): Promise<string>;
  /** The store of sub-folder `folder` (created when first written). */
  sub(folder: string): StateStore;
}

/** Throws unless `name` is a single path segment (see {@linkcode StateStore}). */
export function checkName(name: string): void {
  if (name === "" || name === "." || name === ".." || /[/\\\0]/.test(name)) {
    throw new RangeError(`not a state store name: ${JSON.stringify(name)}`);
  }
}
