import { assertEquals } from "../testing/assert.ts";
import { sha256, sha256Sync } from "./hash.ts";
import { hex } from "./hex.ts";

Deno.test("sha256 matches the FIPS 180-2 test vectors", async () => {
  const abc = new TextEncoder().encode("abc");
  const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  assertEquals(hex(await sha256(abc)), want);
  assertEquals(hex(sha256Sync(abc)), want);
  assertEquals(
    hex(await sha256(new Uint8Array(0))),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

Deno.test("sha256 and sha256Sync agree on views and shared memory", async () => {
  const backing = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) & 255);
  const view = backing.subarray(3, 997);
  const shared = new Uint8Array(new SharedArrayBuffer(view.length));
  shared.set(view);
  const want = sha256Sync(view);
  assertEquals(await sha256(view), want);
  assertEquals(await sha256(shared), want);
  assertEquals(sha256Sync(shared), want);
});
