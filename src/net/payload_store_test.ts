import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { NetError } from "./errors.ts";
import { hashBytes, hashHex, PayloadStore } from "./payload_store.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { assertRejectsCode } from "./_test_utils.ts";

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 17) & 0xff;
  return b;
}

Deno.test("payload store put verifies the sha256 and serves by hash", async () => {
  const store = new PayloadStore({ maxBytes: 1000 });
  const data = bytes(100, 1);
  const hash = await sha256(data);
  assertEquals(await store.put(hash, data), hex(hash));
  assert(store.has(hash) && store.has(hex(hash)) && store.has(hex(hash).toUpperCase()));
  assertEquals(store.get(hash), data);
  assertEquals(store.bytes, 100);
  const other = bytes(100, 2);
  await assertRejectsCode(store.put(hash, other), "hash_mismatch");
  await assertRejectsCode(store.put(await sha256(other), data), "hash_mismatch");
  assertEquals(store.size, 1);
});

Deno.test("payload store evicts the oldest payloads beyond its byte cap", async () => {
  const store = new PayloadStore({ maxBytes: 250 });
  const a = await store.add(bytes(100, 1));
  const b = await store.add(bytes(100, 2));
  const c = await store.add(bytes(100, 3));
  assertEquals([store.has(a), store.has(b), store.has(c)], [false, true, true]);
  assertEquals(store.bytes, 200);
  assertEquals(store.hashes(), [b, c]);
  // Re-adding a held payload does not duplicate it.
  await store.add(bytes(100, 3));
  assertEquals(store.size, 2);
});

Deno.test("payload store keeps pinned payloads and refuses what cannot fit", async () => {
  const store = new PayloadStore({ maxBytes: 250 });
  const a = await store.add(bytes(100, 1), { pin: true });
  const b = await store.add(bytes(100, 2));
  const c = await store.add(bytes(100, 3));
  assertEquals([store.has(a), store.has(b), store.has(c)], [true, false, true]);
  await store.add(bytes(100, 4), { pin: true }); // evicts c
  assertEquals(store.has(c), false);
  await assertRejectsCode(store.add(bytes(100, 5), { pin: true }), "too_large");
  store.unpin(a);
  await store.add(bytes(100, 6)); // now a can go
  assertEquals(store.has(a), false);
});

Deno.test("payload store refuses payloads above the per-payload limit", async () => {
  const store = new PayloadStore({ maxBytes: 1000, maxPayloadBytes: 10 });
  await assertRejectsCode(store.add(bytes(11, 1)), "too_large");
  const big = bytes(11, 1);
  await assertRejectsCode(store.put(await sha256(big), big), "too_large");
  assertEquals(store.size, 0);
});

Deno.test("payload store treats malformed hashes as absent and refuses them on put", async () => {
  const store = new PayloadStore();
  for (const h of ["", "zz", "ab".repeat(31), "g".repeat(64)]) {
    assertEquals(store.has(h), false);
    assertEquals(store.get(h), undefined);
  }
  assertEquals(store.has(new Uint8Array(31)), false);
  await assertRejectsCode(store.put("abc", new Uint8Array(1)), "invalid_argument");
  assertThrows(() => hashHex(new Uint8Array(33)), NetError);
  assertEquals(hashBytes("00".repeat(31) + "ff")[31], 0xff);
  assertEquals(store.delete("nope"), false);
});

Deno.test("payload store sha256 matches a known vector", async () => {
  assertEquals(
    hex(await sha256(new TextEncoder().encode("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
