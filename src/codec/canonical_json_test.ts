import { assertEquals, assertThrows } from "../testing/assert.ts";
import { canonicalJson } from "./canonical_json.ts";

Deno.test("canonicalJson sorts keys at every depth and drops whitespace", () => {
  assertEquals(
    canonicalJson({ b: { y: 1, x: [3, { d: 1, c: 2 }] }, a: "s" }),
    '{"a":"s","b":{"x":[3,{"c":2,"d":1}],"y":1}}',
  );
  assertEquals(canonicalJson({ b: 1, a: 2 }), canonicalJson({ a: 2, b: 1 }));
});

Deno.test("canonicalJson writes numbers and strings as JCS does", () => {
  assertEquals(
    canonicalJson([1e-8, 3e-3, 1.5, -0, 1e21, 100, 0.1]),
    "[1e-8,0.003,1.5,0,1e+21,100,0.1]",
  );
  assertEquals(canonicalJson('é\n"\u2028'), '"é\\n\\"\u2028"');
  assertEquals(canonicalJson({ "é": 1, "z": 2, "A": 3 }), '{"A":3,"z":2,"é":1}');
  assertEquals(canonicalJson([true, false, null]), "[true,false,null]");
});

Deno.test("canonicalJson refuses values JSON cannot carry exactly", () => {
  assertThrows(() => canonicalJson({ a: undefined }), TypeError, "$.a");
  assertThrows(() => canonicalJson([NaN]), TypeError, "finite");
  assertThrows(() => canonicalJson({ x: Infinity }), TypeError, "finite");
  assertThrows(() => canonicalJson(1n), TypeError);
  assertThrows(() => canonicalJson(new Uint8Array(2)), TypeError, "Uint8Array");
  assertThrows(() => canonicalJson(new Date(0)), TypeError, "Date");
  const cyc: Record<string, unknown> = {};
  cyc.self = cyc;
  assertThrows(() => canonicalJson(cyc), TypeError, "cycle");
  // The same object twice is not a cycle.
  const shared = { v: 1 };
  assertEquals(canonicalJson([shared, shared]), '[{"v":1},{"v":1}]');
});
