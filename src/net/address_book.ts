/**
 * The peers a node has met and where each last said it can be dialled, kept across restarts.
 * A node restarted on a new port or address is found again because it dials the peers it knew
 * (their addresses are in its book), not only its bootstrap list, which may name where it or
 * others used to be. Entries come from identify (the listen addresses a connected peer sends)
 * and from the signed peer announcements; the newest replace the older ones.
 *
 * The book holds at most {@linkcode MAX_BOOK_PEERS}, and announcements are free to make: one
 * node with fresh keys could announce thousands of peers. So a full book does not simply drop
 * its least recently seen entry — that pushed the validators and long-known peers out — but the
 * one of the lowest standing: a peer only heard of goes before one the node was connected to
 * (`met`), which goes before one connected now (the node reports them,
 * {@linkcode AddressBook.connected}: fresh keys that connect and identify are `met` too, and
 * must not push out a peer still connected; among these the most recently connected goes
 * first), then one whose update a signed record selected (`selected`, work the validator
 * checked: connected Sybils do not push it out; at most {@linkcode MAX_SELECTED} of them, beyond
 * that the least recently seen falls back to `met`, so they never fill the book and a connected
 * peer always gets in), and the kept peers (bootstrap, the run's validators) go last; within a
 * standing, the least recently seen. And one source — the connection that
 * relayed the announcements — holds at most {@linkcode MAX_HEARD_PER_SOURCE} heard-of entries:
 * beyond that its newest replace its own oldest, not anyone else's. The kept sources together
 * hold at most {@linkcode MAX_HEARD_VIA_KEPT} (a validator relays everyone's announcements to a
 * new peer, so they get more, but a flood it relays cannot cycle every other entry out).
 *
 * Persistence goes through a {@linkcode StateStore} (the data directory under Deno: an atomic
 * write), so the book is runtime-neutral; without one it lives in memory only. The standing is
 * kept with the entry; which source relayed it and which peers are kept or connected are not
 * (a restarted node learns them again).
 *
 * @module
 */

import { peerIdFromString } from "@libp2p/peer-id";
import type { StateStore } from "../protocol/state_store.ts";
import { dialableAddress } from "./address_rules.ts";

/** The address book's name in a role's store (its data directory). */
export const ADDRESS_BOOK_NAME = "address_book.json";

/** Most peers the book keeps (see the module doc for which). */
export const MAX_BOOK_PEERS = 128;

/**
 * Most heard-of entries one relaying connection may hold (an eighth of the book): a node that
 * announces fresh keys crowds out only its own.
 */
export const MAX_HEARD_PER_SOURCE = 16;

/**
 * Most heard-of entries the kept relays (bootstrap, validators) hold together: half the book.
 */
export const MAX_HEARD_VIA_KEPT = MAX_BOOK_PEERS / 2;

/** Most `selected` entries: half the book (the rest stays open to peers met or connected). */
export const MAX_SELECTED = MAX_BOOK_PEERS / 2;

/** The source under which the kept relays' heard-of entries are counted together. */
const KEPT_SOURCE = "";

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
  /**
   * Beyond being heard of (absent): `met` — it told this node its addresses over a connection;
   * `selected` — a signed record selected its update. The higher outlasts the lower.
   */
  standing?: "met" | "selected";
}

/** Eviction order: a higher rank outlasts a lower one. */
const RANK = { heard: 0, met: 1, connected: 2, selected: 3, kept: 4 } as const;

/** What the book is kept in. */
export type BookStore = Pick<StateStore, "get" | "put" | "where">;

/** The known peers of a node (see the module doc). */
export class AddressBook {
  readonly #self: string;
  readonly #store: BookStore | undefined;
  readonly #now: () => number;
  readonly #entries = new Map<string, BookEntry>();
  /** The relaying connection of each heard-of entry added through one. */
  readonly #via = new Map<string, string>();
  /** Peers never evicted for a lower one (see {@linkcode keep}). */
  readonly #kept = new Set<string>();
  /** The peers connected now and since when (see {@linkcode connected}). */
  readonly #connected = new Map<string, number>();
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
      const standing = e.standing === "met" || e.standing === "selected" ? "met" : undefined;
      this.#put(
        e.peerId,
        e.addresses.filter((a): a is string => typeof a === "string"),
        e.seen,
        { standing },
      );
      if (e.standing === "selected") this.selected(e.peerId);
    }
    this.#dirty = false;
    return null;
  }

  /**
   * Records that `peerId` can be dialled at `addresses` now, as heard of (its announcement)
   * through the connection `via` (counted against that source's cap; omitted: not counted).
   * Addresses that are not dialable are dropped; none left: nothing changes. Returns whether
   * the book changed (false too when a full book holds only peers of a higher standing).
   */
  learn(peerId: string, addresses: readonly string[], via?: string): boolean {
    return this.#put(peerId, addresses, this.#now(), { via });
  }

  /**
   * Records that `peerId`, connected, said it listens at `addresses` (identify): it stands at
   * least as `met`. Returns whether the book changed.
   */
  met(peerId: string, addresses: readonly string[]): boolean {
    return this.#put(peerId, addresses, this.#now(), { standing: "met" });
  }

  /**
   * Notes that a signed record selected `peerId`'s update: it stands as `selected` (an entry
   * is needed; none: nothing changes). Returns whether the book changed.
   */
  selected(peerId: string): boolean {
    const e = this.#entries.get(peerId);
    if (e === undefined || e.standing === "selected") return false;
    const selected = [...this.#entries.values()].filter((x) => x.standing === "selected");
    if (selected.length >= MAX_SELECTED) {
      selected.reduce((a, b) => b.seen < a.seen ? b : a).standing = "met";
    }
    e.standing = "selected";
    this.#via.delete(peerId);
    this.#dirty = true;
    return true;
  }

  /**
   * The node reports that `peerId` is connected (`up`) or no longer: while connected, its entry
   * (present or later) is evicted only for a kept one or a peer connected later.
   */
  connected(peerId: string, up: boolean): void {
    if (!up) this.#connected.delete(peerId);
    else if (!this.#connected.has(peerId)) this.#connected.set(peerId, this.#now());
  }

  /**
   * Keeps `peerId` (a bootstrap peer, a validator of the run): its entry, present or later, is
   * evicted only for another kept one, and what it relays counts against the kept relays'
   * larger cap.
   */
  keep(peerId: string): void {
    this.#kept.add(peerId);
    this.#via.delete(peerId);
  }

  /** Undoes {@linkcode keep} (a validator that moved to a new libp2p key). */
  release(peerId: string): void {
    this.#kept.delete(peerId);
  }

  /** The entry of `peerId`. */
  get(peerId: string): BookEntry | undefined {
    return this.#entries.get(peerId);
  }

  /**
   * Every entry, the highest standing first (the order the node dials them in: a flood of
   * hearsay is tried after the peers it met), the most recently seen first within one.
   */
  entries(): BookEntry[] {
    return [...this.#entries.values()].sort((a, b) =>
      this.#rank(b) - this.#rank(a) || b.seen - a.seen
    );
  }

  /** The eviction rank of an entry (see {@linkcode RANK}). */
  #rank(e: BookEntry): number {
    if (this.#kept.has(e.peerId)) return RANK.kept;
    const standing = RANK[e.standing ?? "heard"];
    return this.#connected.has(e.peerId) ? Math.max(RANK.connected, standing) : standing;
  }

  /**
   * How long `e` outlasts others of its rank: the least recently seen goes first, among the
   * connected the most recently connected.
   */
  #age(e: BookEntry): number {
    const since = this.#connected.get(e.peerId);
    return since !== undefined && this.#rank(e) === RANK.connected ? -since : e.seen;
  }

  /** The entry evicted first among `among` (lowest rank, then see {@linkcode #age}). */
  #worst(among: Iterable<BookEntry>): BookEntry | undefined {
    let worst: BookEntry | undefined;
    for (const e of among) {
      if (
        worst === undefined || this.#rank(e) < this.#rank(worst) ||
        (this.#rank(e) === this.#rank(worst) && this.#age(e) < this.#age(worst))
      ) worst = e;
    }
    return worst;
  }

  #delete(peerId: string): void {
    this.#entries.delete(peerId);
    this.#via.delete(peerId);
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

  #put(
    peerId: string,
    addresses: readonly string[],
    seen: number,
    how: { via?: string; standing?: BookEntry["standing"] },
  ): boolean {
    if (peerId === this.#self || !validPeerId(peerId)) return false;
    const clean = [
      ...new Set(addresses.map((a) => dialableAddress(peerId, a)).filter((a) => a !== null)),
    ].slice(0, MAX_BOOK_ADDRESSES);
    if (clean.length === 0) return false;
    const old = this.#entries.get(peerId);
    const standing = old?.standing === "selected" ? "selected" : how.standing ?? old?.standing;
    const same = old !== undefined && old.addresses.join(" ") === clean.join(" ") &&
      old.standing === standing;
    if (same && seen - old.seen < SEEN_RESOLUTION_MS) return false;
    const entry: BookEntry = { peerId, addresses: clean, seen: Math.max(seen, old?.seen ?? 0) };
    if (standing !== undefined) entry.standing = standing;
    const via = how.via === undefined || !this.#kept.has(how.via) ? how.via : KEPT_SOURCE;
    const capped = old === undefined && standing === undefined && via !== undefined &&
      via !== peerId && !this.#kept.has(peerId);
    if (capped) {
      // A source at its cap replaces its own least recently seen heard-of entry.
      const own = [...this.#via].filter(([id, v]) =>
        v === via && this.#rank(this.#entries.get(id)!) === RANK.heard
      );
      if (own.length >= (via === KEPT_SOURCE ? MAX_HEARD_VIA_KEPT : MAX_HEARD_PER_SOURCE)) {
        this.#delete(this.#worst(own.map(([id]) => this.#entries.get(id)!))!.peerId);
      }
    }
    this.#entries.set(peerId, entry);
    if (standing !== undefined) this.#via.delete(peerId);
    else if (capped) this.#via.set(peerId, via);
    if (this.#entries.size > MAX_BOOK_PEERS) {
      const worst = this.#worst(this.#entries.values())!;
      this.#delete(worst.peerId);
      if (worst.peerId === peerId) return false;
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
