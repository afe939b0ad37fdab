import { embeddingBackward, embeddingForward, embeddingIndex } from "./embedding.ts";
import { Rng } from "../util/rng.ts";
import { assertGrad, checkGradient, dot, normals64 } from "../../test/fd.ts";

function assertSame(what: string, got: ArrayLike<number>, want: number[]): void {
  if (got.length !== want.length || want.some((v, i) => got[i] !== v)) {
    throw new Error(`${what}: got [${Array.from(got)}], want [${want}]`);
  }
}

Deno.test("embeddingIndex lists each token's positions in ascending order", () => {
  const tokens = new Uint32Array([3, 0, 3, 5, 0, 3]);
  const { rowStart, positions } = embeddingIndex(tokens, 6);
  assertSame("rowStart", rowStart, [0, 2, 2, 2, 5, 5, 6]);
  assertSame("positions", positions, [1, 4, 0, 2, 5, 3]);
});

Deno.test("embeddingIndex rejects tokens outside the vocabulary", () => {
  let threw = false;
  try {
    embeddingIndex(new Uint32Array([0, 4]), 4);
  } catch {
    threw = true;
  }
  if (!threw) throw new Error("token 4 of a vocabulary of 4 was accepted");
});

Deno.test("embedding backward matches finite differences", () => {
  const V = 7, C = 5, BT = 11, rng = new Rng(5);
  // Repeated tokens and an unused one (6) so that both the sum and the skip are exercised.
  const tokens = new Uint32Array(Array.from({ length: BT }, () => rng.int(V - 1)));
  const wte = normals64(rng, V * C), r = normals64(rng, BT * C);
  const out = new Float64Array(BT * C);
  const loss = () => (embeddingForward(out, tokens, wte, BT, C), dot(out, r));
  const { rowStart, positions } = embeddingIndex(tokens, V);
  const dwte = new Float64Array(V * C);
  embeddingBackward(dwte, r, rowStart, positions, V, C);
  assertGrad("embedding dwte", checkGradient(wte, dwte, loss));
});

Deno.test("embedding backward accumulates into dwte", () => {
  const V = 4, C = 3, tokens = new Uint32Array([1, 1, 2]), rng = new Rng(6);
  const dout = normals64(rng, tokens.length * C), start = normals64(rng, V * C);
  const { rowStart, positions } = embeddingIndex(tokens, V);
  const fresh = new Float64Array(V * C), acc = start.slice();
  embeddingBackward(fresh, dout, rowStart, positions, V, C);
  embeddingBackward(acc, dout, rowStart, positions, V, C);
  for (let i = 0; i < V * C; i++) {
    if (Math.abs(acc[i] - (start[i] + fresh[i])) > 1e-12) {
      throw new Error(`dwte[${i}] not accumulated`);
    }
  }
});
