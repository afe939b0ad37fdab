import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { assert, assertEquals } from "../testing/assert.ts";
import { MemoryStore } from "../protocol/memory_store.ts";
import {
  ADDRESS_BOOK_NAME,
  AddressBook,
  MAX_BOOK_ADDRESSES,
  MAX_BOOK_PEERS,
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
