/** The CPU compressor is the reference's `pseudoGradient` + `compressModel`. */
import { cpuOps } from "./cpu_ops.ts";
import { compressModel } from "../reference/sparseloco/compress_model.ts";
import { pseudoGradient } from "../reference/sparseloco/pseudo_gradient.ts";
import { Rng } from "../util/rng.ts";
import { assertEquals, assertThrows } from "../testing/assert.ts";

const LAYOUT = {
  entries: [
    { name: "w", offset: 0, shape: [100, 48] },
    { name: "norm", offset: 4864, shape: [70] },
  ],
  length: 4864 + 128,
};

Deno.test("cpuCompressor is pseudoGradient + compressModel, window after window", async () => {
  const rng = new Rng(5);
  const c = cpuOps(32).compressor(LAYOUT, { k: 7 });
  const error = rng.normals(LAYOUT.length, 1e-3);
  c.loadError(error);
  for (let w = 0; w < 2; w++) {
    const start = rng.normals(LAYOUT.length), end = rng.normals(LAYOUT.length);
    c.begin(start);
    const want = compressModel(pseudoGradient(start, end), error, LAYOUT.entries, { k: 7 });
    assertEquals(await c.compress(end), want);
    assertEquals(await c.readError(), error);
  }
});

Deno.test("cpuCompressor refuses raw compression, a bad layout and compress without begin", async () => {
  const ops = cpuOps(32);
  assertThrows(() => ops.compressor(LAYOUT, { quantize: false }), RangeError, "quantized");
  assertThrows(() => ops.compressor({ ...LAYOUT, length: 4864 }, {}), RangeError, "out of bounds");
  const c = ops.compressor(LAYOUT, {});
  let threw = false;
  await c.compress(new Float32Array(LAYOUT.length)).catch(() => threw = true);
  assertEquals(threw, true, "compress without begin");
});
