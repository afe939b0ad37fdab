import { assertEquals } from "../testing/assert.ts";
import { sha256 } from "../util/hash.ts";
import { modelHash, modelHashSync } from "./model_hash.ts";

Deno.test("modelHash is SHA-256 of the float32 little-endian bytes", async () => {
  const params = new Float32Array([1, -0, 0.5, -3e38]);
  const le = new Uint8Array(16);
  const dv = new DataView(le.buffer);
  params.forEach((x, i) => dv.setFloat32(4 * i, x, true));
  const want = await sha256(le);
  assertEquals(await modelHash(params), want);
  assertEquals(modelHashSync(params), want);
});

Deno.test("modelHash hashes only the view's elements", async () => {
  const buffer = new Float32Array([7, 1, 2, 3, 7]);
  const view = buffer.subarray(1, 4);
  const want = await modelHash(new Float32Array([1, 2, 3]));
  assertEquals(await modelHash(view), want);
  assertEquals(modelHashSync(view), want);
});
