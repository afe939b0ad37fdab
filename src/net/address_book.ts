/**
 * The peers a node has met and where each last said it can be dialled, kept across restarts.
 * A node restarted on a new port or address is found again because it dials the peers it knew
 * (their addresses are in its book), not only its bootstrap list, which may name where it or
 * others used to be. Entries come from identify (the listen addresses a connected peer sends)
 * and from the signed peer announcements; the newest replace the older ones, the book keeps
 * the most recently seen {@linkcode MAX_BOOK_PEERS}.
 *
 * Persistence goes through a {@linkcode StateStore} (the data directory under Deno: an atomic
 * write), so the book is runtime-neutral; without one it lives in memory only.
 *
 * @module
 */

import { peerIdFromString } from "@libp2p/peer-id";
import type { StateStore } from "../protocol/state_store.ts";
import { dialableAddress } from "./address_rules.ts";

/** The address book's name in a role's store (its data directory). */
export const ADDRESS_BOOK_NAME = "address_book.json";

/** Most peers the book keeps (the most recently seen). */
export const MAX_BOOK_PEERS = 128;

/** Most addresses kept per peer. */
export const MAX_BOOK_ADDRESSES = 8;

/** A peer seen again within this time does not make the book dirty (announcements repeat). */
const SEEN_RESOLUTION_MS = 60_000;

/** One known peer. */
export interface BookEntry {
  /** Its libp2p peer id (text). */
  peerId: string;
  /** Where it can be dialled, without the `/p2p/` part, as it last said. */
  addresses: string[];
  /** When it last said so (ms since the epoch). */
  seen: number;
}

/** What the book is kept in. */
export type BookStore = Pick<StateStore, "get" | "put" | "where">;

/** The known peers of a node (see the module doc). */
export class AddressBook {
  readonly #self: string;
  readonly #store: BookStore | undefined;
  readonly #now: () => number;
  readonly #entries = new Map<string, BookEntry>();
  #dirty = false;

  /**
   * `self`: this node's peer id (never an entry); `store`: where the book is loaded from and
   * saved to; `now`: the clock of `seen`.
   */
  constructor(options: { self: string; store?: BookStore; now?: () => number }) {
    this.#self = options.self;
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
  }

  /** Whether something changed since the last {@linkcode save}. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /**
   * Reads the stored book; returns why it could not (an unreadable or malformed file: the node
   * starts without it, the book is a cache), or null. Malformed entries are skipped.
   */
  async load(): Promise<string | null> {
    if (this.#store === undefined) return null;
    let v: unknown;
    try {
      const bytes = await this.#store.get(ADDRESS_BOOK_NAME);
      if (bytes === null) return null;
      v = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      return `${this.#store.where}/${ADDRESS_BOOK_NAME}: unreadable (${
        (e as Error).message.split("\n")[0].slice(0, 120)
      })`;
    }
    const peers = (v as { peers?: unknown } | null)?.peers;
    if (!Array.isArray(peers)) {
      return `${this.#store.where}/${ADDRESS_BOOK_NAME}: no "peers" list`;
    }
    for (const p of peers.slice(0, MAX_BOOK_PEERS)) {
      const e = p as Partial<BookEntry> | null;
      if (typeof e?.peerId !== "string" || !Array.isArray(e.addresses)) continue;
      if (typeof e.seen !== "number" || !Number.isFinite(e.seen)) continue;
      this.#put(e.peerId, e.addresses.filter((a): a is string => typeof a === "string"), e.seen);
    }
    this.#dirty = false;
    return null;
  }

  /**
   * Records that `peerId` can be dialled at `addresses` now (addresses that are not dialable
   * are dropped; none left: nothing changes). Returns whether the book changed.
   */
  learn(peerId: string, addresses: readonly string[]): boolean {
    return this.#put(peerId, addresses, this.#now());
  }

  /** The entry of `peerId`. */
  get(peerId: string): BookEntry | undefined {
    return this.#entries.get(peerId);
  }

  /** Every entry, the most recently seen first. */
  entries(): BookEntry[] {
    return [...this.#entries.values()].sort((a, b) => b.seen - a.seen);
  }

  /** Writes the book to its store when it changed (atomically: the store's `put`). */
  async save(): Promise<void> {
    if (this.#store === undefined || !this.#dirty) return;
    this.#dirty = false;
    const text = JSON.stringify({ peers: this.entries() }) + "\n";
    try {
      await this.#store.put(ADDRESS_BOOK_NAME, new TextEncoder().encode(text));
    } catch (e) {
      this.#dirty = true;
      throw e;
    }
  }

  #put(peerId: string, addresses: readonly string[], seen: number): boolean {
    if (peerId === this.#self || !validPeerId(peerId)) return false;
    const clean = [
      ...new Set(addresses.map((a) => dialableAddress(peerId, a)).filter((a) => a !== null)),
    ].slice(0, MAX_BOOK_ADDRESSES);
    if (clean.length === 0) return false;
    const old = this.#entries.get(peerId);
    const same = old !== undefined && old.addresses.join(" ") === clean.join(" ");
    if (same && seen - old.seen < SEEN_RESOLUTION_MS) return false;
    this.#entries.set(peerId, { peerId, addresses: clean, seen: Math.max(seen, old?.seen ?? 0) });
    if (this.#entries.size > MAX_BOOK_PEERS) {
      const oldest = this.entries().at(-1)!;
      this.#entries.delete(oldest.peerId);
    }
    this.#dirty = true;
    return true;
  }
}

function validPeerId(text: string): boolean {
  try {
    peerIdFromString(text);
    return true;
  } catch {
    return false;
  }
}
