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

  Deno.test(`VoteBook (${kind.name}) holds one live vote per head, across a reopen`, () =>
    kind.with(async (store) => {
      const H = new Uint8Array(32).fill(7), G = new Uint8Array(32).fill(8);
      const book = new VoteBook(store);
      // At head H (after window 3): a vote for record A of window 5 ...
      assertEquals(await book.take(5, A, { head: H, applied: 3 }), true);
      // ... holds back a vote for another record from H in a later (or earlier) window: both
      // could count, and nodes that applied one and nodes that got the other would fork.
      assertEquals(await book.take(6, B, { head: H, applied: 3 }), false);
      assertEquals(await book.take(4, B, { head: H, applied: 3 }), false);
      assertEquals((await book.holding({ head: H, applied: 3 }))?.window, 5);
      // A restarted validator is held back alike.
      const again = new VoteBook(store);
      assertEquals(await again.take(6, B, { head: H, applied: 4 }), false);
      // Not from another head, not once its window is past the head (applied 5: it counted or
      // lost), not once its window cannot count any more.
      assertEquals(await again.take(6, B, { head: G, applied: 4 }), true);
      assertEquals(await again.holding({ head: H, applied: 5 }), null);
      assertEquals(
        await again.take(7, B, { head: H, applied: 3, released: (w) => w === 6 }),
        false,
      );
      assertEquals(await again.take(8, B, { head: H, applied: 3, released: (w) => w === 5 }), true);
      assertEquals(await again.voted(8), B);
      // The votes from H after window 4, oldest first (re-announced while the head stays H).
      assertEquals((await again.keptFrom({ head: H, applied: 4 })).map((v) => v.window), [5, 8]);
      // A vote kept before heads were written (32 bytes) holds back every head.
      await store.put("0000000020.vote", A);
      const old = new VoteBook(store);
      assertEquals(await old.take(21, B, { head: G, applied: 19 }), false);
      assertEquals(await old.voted(20), A);
    }));

  Deno.test(`VoteBook (${kind.name}) reads the head under its lock, not before a long check`, () =>
    kind.with(async (store) => {
      const H = new Uint8Array(32).fill(7), G = new Uint8Array(32).fill(8);
      const book = new VoteBook(store);
      // n = 3, q = 2: at head H (after window 3) this validator starts checking a proposal of
      // window 6 from H; meanwhile it votes for window 5's record from H, which counts and is
      // applied (head G, applied 5). The check of 6 ends with `head: H, applied: 5`: window 5's
      // vote is not after `applied`, so without the head read at take time it would be skipped
      // and this validator would vote for a second record from H (a fork).
      let head = H, applied = 3;
      const current = () => ({ head, applied });
      assertEquals(await book.take(5, A, { head: H, applied: 3, current }), true);
      head = G;
      applied = 5;
      assertEquals(await book.take(6, B, { head: H, applied: 5, current }), false);
      assertEquals(await book.voted(6), null);
      // The head moved while the take waited for the lock: read when its turn comes.
      head = H;
      applied = 3;
      const first = book.take(7, A, { head: G, applied: 3, current });
      const second = book.take(8, B, { head: H, applied: 3, current });
      head = G;
      applied = 5;
      assertEquals(await Promise.all([first, second]), [true, false]);
      // Not for a window the head has reached; from the head after window 7: taken.
      assertEquals(await book.take(4, B, { head: G, applied: 3, current }), false);
      head = new Uint8Array(32).fill(9);
      applied = 7;
      assertEquals(await book.take(9, B, { head, applied: 7, current }), true);
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
