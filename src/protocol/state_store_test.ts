import { assert, assertEquals } from "../testing/assert.ts";
import { STORE_KINDS } from "../testing/stores.ts";

const bytes = (...xs: number[]) => Uint8Array.from(xs);

for (const kind of STORE_KINDS) {
  Deno.test(`StateStore (${kind.name}) put, get, list and delete blobs by name`, () =>
    kind.with(async (store) => {
      assertEquals(await store.get("a"), null);
      assertEquals(await store.list(), []);
      await store.put("a", bytes(1, 2, 3));
      await store.put("b.msg", bytes());
      assertEquals(await store.get("a"), bytes(1, 2, 3));
      assertEquals(await store.get("b.msg"), bytes());
      assertEquals((await store.list()).sort(), ["a", "b.msg"]);
      await store.put("a", bytes(9));
      assertEquals(await store.get("a"), bytes(9));
      await store.delete("a");
      await store.delete("a"); // absent: nothing happens
      assertEquals(await store.get("a"), null);
      assertEquals(await store.list(), ["b.msg"]);
    }));

  Deno.test(`StateStore (${kind.name}) get returns a copy`, () =>
    kind.with(async (store) => {
      const put = bytes(1, 2);
      await store.put("x", put);
      put[0] = 7;
      const got = (await store.get("x"))!;
      got[1] = 7;
      assertEquals(await store.get("x"), bytes(1, 2));
    }));

  Deno.test(`StateStore (${kind.name}) sub-folders are separate and listed apart`, () =>
    kind.with(async (store) => {
      const sub = store.sub("records");
      assertEquals(await sub.list(), []);
      await sub.put("0000000001.msg", bytes(1));
      await store.put("state.json", bytes(2));
      assertEquals(await store.list(), ["state.json"]);
      assertEquals(await sub.list(), ["0000000001.msg"]);
      assertEquals(await store.get("0000000001.msg"), null);
      assertEquals(await store.sub("records").get("0000000001.msg"), bytes(1));
      assertEquals(await sub.sub("deeper").list(), []);
      assert(sub.where.startsWith(store.where) && sub.where.endsWith("records"), sub.where);
    }));

  Deno.test(`StateStore (${kind.name}) quarantine moves a blob aside, never deletes`, () =>
    kind.with(async (store) => {
      await store.put("state.json", bytes(4, 5));
      const moved = await store.quarantine("state.json", 1234);
      assertEquals(moved, "state.json.bad-1234");
      assertEquals(await store.get("state.json"), null);
      assertEquals(await store.get(moved), bytes(4, 5));
      await store.put("state.json", bytes(6));
      const again = await store.quarantine("state.json");
      assert(/^state\.json\.bad-\d+$/.test(again) && again !== moved, again);
      assertEquals((await store.list()).sort(), [moved, again].sort());
      let threw = false;
      try {
        await store.quarantine("missing");
      } catch {
        threw = true;
      }
      assert(threw, "quarantining a missing blob fails");
    }));

  Deno.test(`StateStore (${kind.name}) refuses names that are not one path segment`, () =>
    kind.with(async (store) => {
      for (const name of ["", ".", "..", "../x", "a/b", "a\\b"]) {
        for (const op of [() => store.get(name), () => store.put(name, bytes(1))]) {
          let threw = false;
          try {
            await op();
          } catch (e) {
            threw = e instanceof RangeError;
          }
          assert(threw, `name ${JSON.stringify(name)} refused`);
        }
        let subThrew = false;
        try {
          store.sub(name);
        } catch (e) {
          subThrew = e instanceof RangeError;
        }
        assert(subThrew, `folder ${JSON.stringify(name)} refused`);
      }
    }));
}
