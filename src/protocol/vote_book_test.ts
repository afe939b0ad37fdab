import { assertEquals } from "../testing/assert.ts";
import { STORE_KINDS } from "../testing/stores.ts";
import { VoteBook } from "./vote_book.ts";
import { MemoryStore } from "./memory_store.ts";
import type { PutOptions, StateStore } from "./state_store.ts";

const A = new Uint8Array(32).fill(1);
const B = new Uint8Array(32).fill(2);

for (const kind of STORE_KINDS) {
  Deno.test(`VoteBook (${kind.name}) keeps one vote per window across a reopen`, () =>
    kind.with(async (store) => {
      const book = new VoteBook(store);
      assertEquals(await book.voted(5), null);
      assertEquals(await book.take(5, A), true);
      assertEquals(await book.take(5, B), false);
      assertEquals(await book.take(5, A), false);
      // A restarted validator: a new book over the same store.
      const again = new VoteBook(store);
      assertEquals(await again.take(5, B), false);
      assertEquals(await again.voted(5), A);
      assertEquals(await again.take(6, B), true);
      await again.prune(6);
      assertEquals(await store.list(), ["0000000006.vote"]);
    }));

  Deno.test(`VoteBook (${kind.name}) lets one of two concurrent votes of a window win`, () =>
    kind.with(async (store) => {
      const book = new VoteBook(store);
      const got = await Promise.all([book.take(9, A), book.take(9, B), book.take(9, A)]);
      assertEquals(got, [true, false, false]);
      assertEquals(await book.voted(9), A);
    }));
}

Deno.test("VoteBook writes each vote durably (flushed before the vote is signed)", async () => {
  const puts: [string, PutOptions | undefined][] = [];
  const store: StateStore = new MemoryStore();
  const put = store.put.bind(store);
  store.put = (name, bytes, options) => {
    puts.push([name, options]);
    return put(name, bytes, options);
  };
  await new VoteBook(store).take(3, A);
  assertEquals(puts, [["0000000003.vote", { durable: true }]]);
});
