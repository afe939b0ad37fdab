/**
 * The IndexedDB state store (src/protocol/idb_store.ts) in Chromium's real IndexedDB, through
 * dist/store.html: the StateStore contract (blobs by name, copies, folders listed apart,
 * quarantine, bad names refused) and blobs surviving a reload.
 */
import { expect, type Page, test } from "@playwright/test";
// The page's `globalThis.IdbStore` declaration.
import type {} from "../../web/store_page.ts";

async function open(page: Page): Promise<void> {
  const res = await page.goto("/store.html");
  expect(res?.ok(), `GET /store.html: ${res?.status()} (did \`vite build\` run?)`).toBe(true);
  await page.waitForFunction(() => globalThis.IdbStore !== undefined);
}

test("IdbStore keeps blobs by name, in folders listed apart, and quarantines in place", async ({ page }) => {
  await open(page);
  const out = await page.evaluate(async () => {
    const store = await globalThis.IdbStore.open("contract");
    const arr = (b: Uint8Array | null) => b === null ? null : [...b];
    const r: Record<string, unknown> = {};
    r.empty = [arr(await store.get("a")), await store.list()];
    const put = Uint8Array.of(1, 2, 3);
    await store.put("a", put);
    put[0] = 7; // the store kept a copy
    await store.put("b.msg", new Uint8Array());
    const got = (await store.get("a"))!;
    got[1] = 7; // and gives copies
    r.stored = [
      arr(await store.get("a")),
      arr(await store.get("b.msg")),
      (await store.list()).sort(),
    ];
    await store.put("a", Uint8Array.of(9));
    r.replaced = arr(await store.get("a"));
    await store.delete("a");
    await store.delete("a");
    r.deleted = [arr(await store.get("a")), await store.list()];
    // "records" and "records2" share a prefix; neither lists the other's blobs.
    const sub = store.sub("records"), sub2 = store.sub("records2");
    await sub.put("0000000001.msg", Uint8Array.of(1));
    await sub2.put("x", Uint8Array.of(2));
    await sub.sub("deeper").put("y", Uint8Array.of(3));
    r.folders = [
      (await store.list()).sort(),
      await sub.list(),
      await sub2.list(),
      arr(await store.get("0000000001.msg")),
      arr(await store.sub("records").get("0000000001.msg")),
      sub.where,
    ];
    await store.put("state.json", Uint8Array.of(4, 5));
    const moved = await store.quarantine("state.json", 1234);
    r.quarantined = [moved, arr(await store.get("state.json")), arr(await store.get(moved))];
    r.missing = await store.quarantine("nothing").then(() => "no error", (e) => e.message);
    r.badNames = await Promise.all(
      ["", "..", "a/b"].map((n) =>
        store.put(n, Uint8Array.of(1)).then(() => "accepted", (e) => e.name)
      ),
    );
    store.close();
    return r;
  });
  expect(out.empty).toEqual([null, []]);
  expect(out.stored).toEqual([[1, 2, 3], [], ["a", "b.msg"]]);
  expect(out.replaced).toEqual([9]);
  expect(out.deleted).toEqual([null, ["b.msg"]]);
  expect(out.folders).toEqual([
    ["b.msg"],
    ["0000000001.msg"],
    ["x"],
    null,
    [1],
    "indexeddb:contract/records",
  ]);
  expect(out.quarantined).toEqual(["state.json.bad-1234", null, [4, 5]]);
  expect(out.missing).toBe("indexeddb:contract/nothing: not found");
  expect(out.badNames).toEqual(["RangeError", "RangeError", "RangeError"]);
});

test("IdbStore blobs survive a reload", async ({ page }) => {
  await open(page);
  await page.evaluate(async () => {
    const store = await globalThis.IdbStore.open("reload");
    await store.sub("run").put("state.json", new TextEncoder().encode("θ of window 7"));
    store.close();
  });
  await page.reload();
  await page.waitForFunction(() => globalThis.IdbStore !== undefined);
  const text = await page.evaluate(async () => {
    const store = await globalThis.IdbStore.open("reload");
    const b = await store.sub("run").get("state.json");
    store.close();
    return b === null ? null : new TextDecoder().decode(b);
  });
  expect(text).toBe("θ of window 7");
});
