import { matmul } from "../reference/matmul.ts";
import type { Floats } from "../reference/types.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { Rng } from "../util/rng.ts";
import { cpuOps } from "./cpu_ops.ts";
import { BYTES_URL, bytesModule, compileWat, loadWabt, WAT_URL } from "./wasm_build.ts";
import { K_BLOCK, WasmMatmul } from "./wasm_matmul.ts";
import { WASM_MATMUL_BYTES } from "./wasm_matmul_bytes.ts";

/** Odd sizes (tile edges), K past one block, K = 0, and a model-like shape. */
const SHAPES = [[1, 1, 1], [5, 7, 3], [17, 33, 2 * K_BLOCK + 9], [3, 2, 0], [64, 176, 64]];
const FLAGS = [false, true];
const ATOL = 1e-6, RTOL = 1e-6;

function random(rng: Rng, n: number, Floats: Float32ArrayConstructor | Float64ArrayConstructor) {
  return Floats.from(rng.normals(n));
}

for (const Floats of [Float32Array, Float64Array]) {
  Deno.test(`WasmMatmul gives the reference's bits for every MatmulShape variant (${Floats.name})`, () => {
    const kernel = new WasmMatmul();
    // 64 KiB of scratch: the larger products run in blocks of rows and columns of C.
    const blocked = new WasmMatmul({ scratchBytes: 1 << 16 });
    let worst = { err: 0, where: "none" };
    let cases = 0;
    for (const [M, N, K] of SHAPES) {
      for (const transA of FLAGS) {
        for (const transB of FLAGS) {
          for (const accumulate of FLAGS) {
            const shape = { M, N, K, transA, transB, accumulate };
            const rng = new Rng(1 + M * 7919 + N * 104729 + K);
            const a = random(rng, M * K, Floats), b = random(rng, K * N, Floats);
            const start = random(rng, M * N, Floats);
            const want: Floats = Floats.from(start), got: Floats = Floats.from(start);
            const inBlocks: Floats = Floats.from(start);
            matmul(want, a, b, shape);
            kernel.matmul(got, a, b, shape);
            blocked.matmul(inBlocks, a, b, shape);
            assertEquals(inBlocks, got, `${JSON.stringify(shape)} in blocks`);
            for (let i = 0; i < want.length; i++) {
              const err = Math.abs(got[i] - want[i]);
              if (!(err <= ATOL + RTOL * Math.abs(want[i]))) {
                throw new Error(`${JSON.stringify(shape)}[${i}]: ${got[i]} vs ${want[i]}`);
              }
              if (err > worst.err) worst = { err, where: `${JSON.stringify(shape)}[${i}]` };
            }
            // Same order of float64 sums, so the same bits, not just close ones.
            assertEquals(
              new Uint8Array(got.buffer),
              new Uint8Array(want.buffer),
              JSON.stringify(shape),
            );
            cases++;
          }
        }
      }
    }
    assertEquals(cases, SHAPES.length * 8);
    console.log(`worst |wasm − reference| over ${cases} products: ${worst.err} (${worst.where})`);
  });
}

Deno.test("WasmMatmul grows its memory for a larger product after a smaller one", () => {
  const kernel = new WasmMatmul();
  for (const n of [4, 300]) {
    const rng = new Rng(n);
    const a = random(rng, n * n, Float32Array), b = random(rng, n * n, Float32Array);
    const want = new Float32Array(n * n), got = new Float32Array(n * n);
    matmul(want, a, b, { M: n, N: n, K: n, transB: true });
    kernel.matmul(got, a, b, { M: n, N: n, K: n, transB: true });
    assertEquals(got, want);
  }
});

Deno.test("cpuOps runs the WebAssembly matmul by default, the reference when asked", () => {
  assertEquals(cpuOps(32).name, "cpu-wasm");
  assertEquals(cpuOps(64).name, "cpu-wasm-f64");
  assertEquals(cpuOps(32, { wasm: false }).name, "cpu-reference");
  const ops = cpuOps(32);
  const out = ops.tensor(2), a = ops.tensor(2), b = ops.tensor(4);
  ops.write(a, Float32Array.of(1, 2));
  ops.write(b, Float32Array.of(3, 4, 5, 6));
  ops.matmul(out, a, b, { M: 1, N: 2, K: 2 });
  assertEquals(out, Float32Array.of(13, 16));
});

Deno.test("wasm_matmul_bytes.ts is the binary that wabt builds from wasm_matmul.wat", async () => {
  const binary = compileWat(await loadWabt(), await Deno.readTextFile(WAT_URL));
  assert(WebAssembly.validate(binary), "wabt's binary validates");
  assertEquals(WASM_MATMUL_BYTES, binary, "rebuild: deno run -A src/backend/wasm_build.ts");
  assertEquals(await Deno.readTextFile(BYTES_URL), bytesModule(binary));
});
