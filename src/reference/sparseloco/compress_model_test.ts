import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { checkLayout, compressModel, type TensorEntry } from "./compress_model.ts";
import { compressTensor } from "./compress.ts";
import { pseudoGradient } from "./pseudo_gradient.ts";
import { Rng } from "../../util/rng.ts";

const LAYOUT: TensorEntry[] = [
  { name: "embed", offset: 0, shape: [128, 64] },
  { name: "w", offset: 8192, shape: [100, 48] },
  { name: "norm", offset: 8192 + 4800, shape: [70] },
];
const SIZE = 8192 + 4800 + 70;

Deno.test("compressModel compresses each tensor's view of the flat buffers", () => {
  const rng = new Rng(24);
  const delta = rng.normals(SIZE), error = rng.normals(SIZE, 0.1);
  const want = error.slice();
  const got = compressModel(delta, error, LAYOUT);
  LAYOUT.forEach((e, i) => {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const t = compressTensor(
      delta.subarray(e.offset, e.offset + n),
      want.subarray(e.offset, e.offset + n),
      e.shape,
    );
    assertEquals(got[i], t, e.name);
  });
  assertEquals(error, want);
});

Deno.test("checkLayout refuses out-of-bounds and overlapping tensors", () => {
  checkLayout(LAYOUT, SIZE);
  assertThrows(() => checkLayout(LAYOUT, SIZE - 1), RangeError, "out of bounds");
  assertThrows(
    () => checkLayout([...LAYOUT, { name: "x", offset: 100, shape: [4] }], SIZE),
    RangeError,
    "overlap",
  );
});

Deno.test("pseudoGradient is θ_start − θ_end in float32", () => {
  const d = pseudoGradient(new Float32Array([1, 0.1, -2]), new Float32Array([0.5, 0.3, -2]));
  assertEquals([d[0], d[2]], [0.5, 0]);
  assertEquals(d[1], Math.fround(Math.fround(0.1) - Math.fround(0.3)));
});
