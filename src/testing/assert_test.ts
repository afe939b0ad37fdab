import {
  assert,
  assertAlmostEquals,
  assertEquals,
  AssertionError,
  assertNotEquals,
  assertRejects,
  assertThrows,
  equal,
} from "./assert.ts";

function fails(fn: () => unknown, includes: string): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof AssertionError) || !e.message.includes(includes)) throw e;
    return;
  }
  throw new Error(`expected an AssertionError containing "${includes}"`);
}

Deno.test("equal compares numbers with Object.is", () => {
  assert(equal(NaN, NaN));
  assert(!equal(0, -0));
  assert(!equal([0], [-0]));
  assert(!equal(new Float32Array([0]), new Float32Array([-0])));
  assert(equal(new Float32Array([NaN, 1]), new Float32Array([NaN, 1])));
});

Deno.test("equal is deep and strict about shapes", () => {
  assert(equal({ a: [1, { b: 2n }], c: "x" }, { c: "x", a: [1, { b: 2n }] }));
  assert(!equal({ a: undefined }, {}));
  assert(!equal([1, undefined], [1]));
  assert(!equal(new Array(1), [undefined]));
  assert(!equal(new Uint8Array([1]), new Int8Array([1])));
  assert(!equal(new Uint8Array([1, 2]), new Uint8Array([1])));
  assert(!equal([1], { 0: 1 }));
  assert(equal(new Map([["a", [1]]]), new Map([["a", [1]]])));
  assert(!equal(new Map([["a", 1]]), new Map([["a", 2]])));
  assert(!equal(new Map([["a", 1]]), new Map([["b", 1]])));
  assert(equal(new Set([1, 2]), new Set([2, 1])));
  assert(!equal(new Set([1, 2]), new Set([1, 3])));
  assert(!equal(new Date(0), new Date(1)));
});

Deno.test("assertEquals names the first difference", () => {
  assertEquals({ a: [1, 2] }, { a: [1, 2] });
  fails(() => assertEquals({ a: [1, 2] }, { a: [1, 3] }, "ctx"), "ctx: value.a[1]: 2 !== 3");
  fails(() => assertEquals(new Float32Array(3), new Float32Array(2)), "value.length: 3 !== 2");
  assertNotEquals([1], [2]);
  fails(() => assertNotEquals([1], [1]), "expected different values");
});

Deno.test("assertAlmostEquals checks the tolerance, NaN never passes", () => {
  assertAlmostEquals(1, 1.05, 0.1);
  fails(() => assertAlmostEquals(1, 1.2, 0.1), "is not within 0.1 of 1.2");
  fails(() => assertAlmostEquals(NaN, NaN, 1), "is not within");
});

Deno.test("assertThrows checks the class and a message substring or pattern", () => {
  const boom = () => {
    throw new RangeError("index 5 is out of range");
  };
  assertEquals(assertThrows(boom, RangeError).message, "index 5 is out of range");
  assertThrows(boom, RangeError, "5 is out");
  assertThrows(boom, Error, /^index \d+ is out of range$/);
  fails(() => assertThrows(boom, TypeError), "expected TypeError, got RangeError");
  fails(() => assertThrows(boom, RangeError, "index 6"), 'containing "index 6"');
  fails(() => assertThrows(boom, RangeError, /^out/), "does not match /^out/");
  fails(() => assertThrows(() => {}, RangeError), "nothing was thrown");
});

Deno.test("assertRejects checks a rejected promise like assertThrows", async () => {
  const e = await assertRejects(() => Promise.reject(new TypeError("bad input")), TypeError, "bad");
  assertEquals(e.message, "bad input");
  let caught: unknown;
  try {
    await assertRejects(() => Promise.resolve(1), TypeError);
  } catch (err) {
    caught = err;
  }
  assert(caught instanceof AssertionError && caught.message.includes("nothing was thrown"));
});
