import { assert } from "../testing/assert.ts";
import { bytesEqual } from "./bytes.ts";

Deno.test("bytesEqual compares length and every byte", () => {
  assert(bytesEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])));
  assert(bytesEqual(new Uint8Array(0), new Uint8Array(0)));
  assert(!bytesEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2])));
  assert(!bytesEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])));
  assert(!bytesEqual(new Uint8Array([9, 2, 3]), new Uint8Array([1, 2, 3])));
});
