/**
 * Test page (web/store.html): exposes {@linkcode IdbStore} as `globalThis.IdbStore`, so
 * test/browser/store.spec.ts can drive the real IndexedDB of Chromium, across reloads.
 */
import { IdbStore } from "../src/protocol/idb_store.ts";

declare global {
  /** The store class, for Playwright. */
  var IdbStore: typeof import("../src/protocol/idb_store.ts").IdbStore;
}

globalThis.IdbStore = IdbStore;
