import { assert, assertEquals } from "../testing/assert.ts";
import { numelOf, sameShape } from "./shape.ts";

Deno.test("numelOf multiplies the dimensions", () => {
  assertEquals(numelOf([2, 3, 4]), 24);
  assertEquals(numelOf([7]), 7);
  assertEquals(numelOf([]), 1);
  assertEquals(numelOf([5, 0]), 0);
});

Deno.test("sameShape compares rank and every dimension", () => {
  assert(sameShape([2, 3], [2, 3]));
  assert(sameShape([], []));
  assert(!sameShape([2, 3], [3, 2]));
  assert(!sameShape([6], [6, 1]));
});
