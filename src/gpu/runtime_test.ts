import { assertEquals, assertThrows } from "../testing/assert.ts";
import { splitPlan } from "./runtime.ts";

const at = (...offsets: number[]) => offsets.map((offset, i) => ({ name: `t${i}`, offset }));

Deno.test("splitPlan packs whole tensors greedily into chunks of at most the limit", () => {
  // Tensors [0,64) [64,192) [192,256) [256,512) [512,600): at 256 elements a chunk.
  assertEquals(splitPlan(600, at(0, 64, 192, 256, 512), 256, "flat"), [256, 256, 88]);
  // A limit that fits everything: one chunk (the runtime never splits such a tensor).
  assertEquals(splitPlan(600, at(0, 64, 192, 256, 512), 600, "flat"), [600]);
  // Exactly at the limit, then a tensor of its own.
  assertEquals(splitPlan(320, at(0, 128, 256), 128, "flat"), [128, 128, 64]);
});

Deno.test("splitPlan refuses a tensor larger than one chunk, naming it, and bad split points", () => {
  assertThrows(
    () => splitPlan(600, at(0, 64, 512), 256, "params"),
    Error,
    "tensor params: t1 needs 1792 bytes in one binding; buffers here hold at most 1024",
  );
  assertThrows(() => splitPlan(600, at(64, 128), 256, "x"), Error, "must start at element 0");
  assertThrows(() => splitPlan(600, at(0, 100), 256, "x"), Error, "not ascending on 64 elements");
  assertThrows(() => splitPlan(600, at(0, 256, 128), 256, "x"), Error, "not ascending");
});
