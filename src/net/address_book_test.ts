import { generateKeyPair, generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { assert, assertEquals } from "../testing/assert.ts";
import { MemoryStore } from "../protocol/memory_store.ts";
import {
  ADDRESS_BOOK_NAME,
  AddressBook,
  MAX_BOOK_ADDRESSES,
  MAX_BOOK_PEERS,
  MAX_HEARD_PER_SOURCE,
  MAX_HEARD_VIA_KEPT,
  MAX_SELECTED,
} from "./address_book.ts";

const A = "12D3KooWGzh7p7dHwgxdkmY3nqcsnBcRrWpLDaJ8BfKyWbcyPAhz";
const B = "12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK";

Deno.test("address book keeps each peer's latest addresses, newest first, bounded", () => {
  let now = 1_000;
  const book = new AddressBook({ self: B, now: () => now });
  assert(!book.learn(B, ["/ip4/127.0.0.1/tcp/1"]), "never itself");
  assert(!book.learn("nope", ["/ip4/127.0.0.1/tcp/1"]), "a bad peer id");
  assert(!book.learn(A, ["/ip4/0.0.0.0/tcp/1"]), "nothing dialable");
  assert(book.learn(A, [`/ip4/127.0.0.1/tcp/1/p2p/${A}`, "/ip4/127.0.0.1/tcp/2/ws"]));
  assert(!book.learn(A, ["/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/2/ws"]), "unchanged");
  now += 5_000;
  assert(book.learn(A, ["/ip4/127.0.0.1/tcp/9"]), "it moved");
  assertEquals(book.get(A), { peerId: A, addresses: ["/ip4/127.0.0.1/tcp/9"], seen: 6_000 });
  const many = Array.from({ length: 20 }, (_, i) => `/ip4/127.0.0.1/tcp/${100 + i}`);
  book.learn(A, many);
  assertEquals(book.get(A)!.addresses, many.slice(0, MAX_BOOK_ADDRESSES));
});

Deno.test("address book evicts the least recently seen beyond its cap", async () => {
  let now = 0;
  const book = new AddressBook({ self: B, now: () => now });
  const ids: string[] = [];
  for (let i = 0; i < MAX_BOOK_PEERS + 2; i++) {
    const id = peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString();
    ids.push(id);
    now = i * 1000;
    book.learn(id, [`/ip4/127.0.0.1/tcp/${1000 + i}`]);
  }
  const kept = book.entries();
  assertEquals(kept.length, MAX_BOOK_PEERS);
  assertEquals(kept[0].peerId, ids.at(-1));
  assertEquals(book.get(ids[0]), undefined);
  assertEquals(book.get(ids[1]), undefined);
});

Deno.test("address book survives a restart through its store and shrugs off a bad file", async () => {
  const store = new MemoryStore();
  const book = new AddressBook({ self: B, store, now: () => 42 });
  book.learn(A, ["/ip4/10.0.0.7/tcp/4001"]);
  assert(book.dirty);
  await book.save();
  assert(!book.dirty);
  const again = new AddressBook({ self: B, store });
  assertEquals(await again.load(), null);
  assertEquals(again.entries(), [{ peerId: A, addresses: ["/ip4/10.0.0.7/tcp/4001"], seen: 42 }]);

  await store.put(
    ADDRESS_BOOK_NAME,
    new TextEncoder().encode(JSON.stringify({
      peers: [{ peerId: A, addresses: [1, "/ip4/10.0.0.8/tcp/1"], seen: 7 }, { peerId: 3 }, null],
    })),
  );
  const partial = new AddressBook({ self: B, store });
  assertEquals(await partial.load(), null);
  assertEquals(partial.entries(), [{ peerId: A, addresses: ["/ip4/10.0.0.8/tcp/1"], seen: 7 }]);

  await store.put(ADDRESS_BOOK_NAME, new TextEncoder().encode("{not json"));
  const broken = new AddressBook({ self: B, store });
  const why = await broken.load();
  assert(why !== null && why.includes("unreadable"), String(why));
  assertEquals(broken.entries(), []);
  assertEquals(await new AddressBook({ self: B }).load(), null);
});

/** `n` peer ids from seeds `from`, `from + 1`, … (the same in every run). */
async function peerIds(n: number, from: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + n; i++) {
    const seed = new Uint8Array(32);
    new DataView(seed.buffer).setUint32(0, i);
    ids.push(peerIdFromPrivateKey(await generateKeyPairFromSeed("Ed25519", seed)).toString());
  }
  return ids;
}

Deno.test("address book keeps kept, connected and selected peers through 1,000 announced keys", async () => {
  let now = 0;
  const book = new AddressBook({ self: B, now: () => ++now });
  const [kept, met, chosen, heard, relay, sybil, ...fresh] = await peerIds(1_006, 1);
  const at = (i: number) => [`/ip4/10.0.${i >> 8}.${i & 255}/tcp/4001`];
  book.keep(kept);
  assert(book.learn(kept, at(1), relay));
  assert(book.met(met, at(2)));
  assert(book.met(chosen, at(3)) && book.selected(chosen));
  assert(!book.selected(fresh[0]), "no entry, nothing to select");
  assert(book.learn(heard, at(4), relay));
  const survivors = [kept, met, chosen];

  // Through one connection: it fills its own share, and its newest replace its oldest.
  for (const [i, id] of fresh.entries()) book.learn(id, at(100 + i), sybil);
  const entries = book.entries();
  const fromSybil = entries.filter((e) => fresh.includes(e.peerId)).map((e) => e.peerId);
  assertEquals(fromSybil, fresh.slice(-MAX_HEARD_PER_SOURCE).reverse(), "the source's newest");
  for (const id of [...survivors, heard]) assert(book.get(id) !== undefined, `${id} stays`);
  assertEquals(book.get(met)!.standing, "met");
  assertEquals(book.get(chosen)!.standing, "selected");
  assertEquals(entries.slice(0, 3).map((e) => e.peerId), [kept, chosen, met], "dialled first");

  // Each through a connection of its own: the cap does not bind, the standing does.
  for (const [i, id] of fresh.entries()) book.learn(id, at(2_000 + i), `via-${i}`);
  assertEquals(book.entries().length, MAX_BOOK_PEERS);
  for (const id of survivors) assert(book.get(id) !== undefined, `${id} stays`);
  assertEquals(book.get(heard), undefined, "a heard-of peer is not protected");
  book.release(kept);
  for (const [i, id] of fresh.entries()) book.learn(id, at(4_000 + i), `via-${i}`);
  assertEquals(book.get(kept), undefined, "released, it was only heard of");
  assert(book.get(met) !== undefined, "met stays");
  assert(book.get(fresh.at(-1)!) !== undefined, "the newest heard-of peers are in");

  // A book full of peers it met takes no more hearsay, and a peer it meets gets in.
  const full = new AddressBook({ self: B, now: () => ++now });
  for (const [i, id] of fresh.slice(0, MAX_BOOK_PEERS).entries()) full.met(id, at(i));
  assert(!full.learn(heard, at(5), relay), "only heard of");
  assertEquals(full.get(heard), undefined);
  assert(full.met(heard, at(5)));
  assertEquals(full.get(fresh[0]), undefined, "the least recently seen peer it met went");
});

Deno.test("address book keeps connected peers through fresh keys that connect, and selected never fill it", async () => {
  let now = 0;
  const book = new AddressBook({ self: B, now: () => ++now });
  const [honest, late, ...sybils] = await peerIds(2 + 2 * MAX_BOOK_PEERS, 20_000);
  const at = (i: number) => [`/ip4/10.1.${i >> 8}.${i & 255}/tcp/4001`];
  book.connected(honest, true);
  assert(book.met(honest, at(0)));
  // Fresh keys connect and identify (met, as the honest peer); they stay connected too.
  for (const [i, id] of sybils.entries()) {
    book.connected(id, true);
    book.met(id, at(1 + i));
  }
  assertEquals(book.entries().length, MAX_BOOK_PEERS);
  assert(book.get(honest) !== undefined, "the earlier connected peer stays");
  assertEquals(book.get(sybils.at(-1)!), undefined, "the most recently connected goes first");
  // Once it is gone it is a met peer again, the least recently seen: the next one pushes it out.
  book.connected(honest, false);
  book.met(late, at(999));
  assertEquals(book.get(honest), undefined);

  // Selected peers hold at most MAX_SELECTED places: a connected, then a met peer still get in.
  const chosen = new AddressBook({ self: B, now: () => ++now });
  for (const [i, id] of sybils.slice(0, MAX_BOOK_PEERS).entries()) {
    chosen.met(id, at(i));
    chosen.selected(id);
  }
  const selected = chosen.entries().filter((e) => e.standing === "selected").map((e) => e.peerId);
  assertEquals(selected, sybils.slice(MAX_BOOK_PEERS - MAX_SELECTED, MAX_BOOK_PEERS).reverse());
  chosen.connected(honest, true);
  assert(chosen.met(honest, at(500)), "a connected peer gets in");
  assert(chosen.met(late, at(501)), "so does a met one");
  assertEquals(chosen.get(sybils[0]), undefined, "the least recently seen, no longer selected");
});

Deno.test("address book caps what the kept relays add to half the book", async () => {
  let now = 0;
  const book = new AddressBook({ self: B, now: () => ++now });
  const [validator, ...rest] = await peerIds(1 + 40 + 1_000, 30_000);
  const honest = rest.slice(0, 40), flood = rest.slice(40);
  const at = (i: number) => [`/ip4/10.2.${i >> 8}.${i & 255}/tcp/4001`];
  book.keep(validator);
  for (const [i, id] of honest.entries()) assert(book.learn(id, at(i), `via-${i}`));
  for (const [i, id] of flood.entries()) book.learn(id, at(100 + i), validator);
  for (const id of honest) assert(book.get(id) !== undefined, `${id} stays`);
  const fromKept = book.entries().filter((e) => flood.includes(e.peerId)).map((e) => e.peerId);
  assertEquals(fromKept, flood.slice(-MAX_HEARD_VIA_KEPT).reverse(), "the kept relays' newest");
});

Deno.test("address book keeps a peer's standing across a restart; an old file's peers are heard of", async () => {
  const store = new MemoryStore();
  const book = new AddressBook({ self: B, store, now: () => 42 });
  book.met(A, ["/ip4/10.0.0.7/tcp/4001"]);
  const [c] = await peerIds(1, 5_000);
  book.met(c, ["/ip4/10.0.0.9/tcp/4001"]);
  book.selected(c);
  await book.save();
  const again = new AddressBook({ self: B, store });
  assertEquals(await again.load(), null);
  assertEquals(again.get(A)!.standing, "met");
  assertEquals(again.get(c)!.standing, "selected");
  again.learn(c, ["/ip4/10.0.0.10/tcp/4001"], A);
  assertEquals(again.get(c)!.standing, "selected", "its announcement does not lower it");

  await store.put(
    ADDRESS_BOOK_NAME,
    new TextEncoder().encode(JSON.stringify({
      peers: [{ peerId: A, addresses: ["/ip4/10.0.0.8/tcp/1"], seen: 7, standing: "boss" }],
    })),
  );
  const old = new AddressBook({ self: B, store });
  assertEquals(await old.load(), null);
  assertEquals(old.entries(), [{ peerId: A, addresses: ["/ip4/10.0.0.8/tcp/1"], seen: 7 }]);
});
