import { assertEquals } from "../testing/assert.ts";
import { jsonErrorPosition, jsonErrorWhere } from "./json_error.ts";

Deno.test("jsonErrorPosition finds the first syntax error", () => {
  const cases: [string, number | undefined][] = [
    ['{"a": [1, {"b": null}], "c": "\\u00e9\\n", "d": -1.5e3}', undefined],
    ['{"model": }', 10],
    ['{"a":1', 6],
    ["", 0],
    ["[1,2,]", 5],
    ["nul", 3],
    ['"\\x"', 2],
    ["01", 1],
    ['{"a":1} x', 8],
  ];
  for (const [text, pos] of cases) assertEquals(jsonErrorPosition(text), pos, text);
});

Deno.test("jsonErrorWhere gives position, line and column", () => {
  assertEquals(jsonErrorWhere('{"a":\n tru}'), " at position 10 (line 2 column 5)");
  assertEquals(jsonErrorWhere("[]"), "");
});
