/**
 * Every {@linkcode StateStore} implementation, for tests that must hold for each: a test
 * registers one case per kind, each with a fresh, empty store.
 *
 * @module
 */

import { FileStore } from "../cli/file_store.ts";
import { MemoryStore } from "../protocol/memory_store.ts";
import type { StateStore } from "../protocol/state_store.ts";

/** One implementation. */
export interface StoreKind {
  /** "memory", "files". */
  name: string;
  /** Runs `fn` with a new empty store, then disposes of it. */
  with(fn: (store: StateStore) => Promise<void>): Promise<void>;
}

/** The in-memory store and the file store (over a temporary folder). */
export const STORE_KINDS: readonly StoreKind[] = [
  { name: "memory", with: (fn) => fn(new MemoryStore()) },
  {
    name: "files",
    with: async (fn) => {
      const path = await Deno.makeTempDir({ prefix: "webloco-store-" });
      try {
        await fn(await FileStore.open(path));
      } finally {
        await Deno.remove(path, { recursive: true });
      }
    },
  },
];
