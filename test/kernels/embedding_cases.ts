import { embeddingBackward, embeddingForward } from "../../src/kernels/embedding.ts";
import * as ref from "../../src/reference/embedding.ts";
import { Rng } from "../../src/util/rng.ts";
import { compare, type KernelCase, upload } from "./check.ts";

const V = 300;
// BT·C not multiples of 256; 1 row; many repeats of a few tokens and tokens that never occur.
const SHAPES: [number, number][] = [[1, 16], [77, 70], [1000, 16], [1000, 70]];

/** Embedding gather forward and index-ordered backward, V = 300 with repeated and unused tokens. */
export const embeddingCases: KernelCase[] = SHAPES.map(([BT, C]) => {
  const shape = `V=${V} BT=${BT} C=${C}`;
  return {
    kernel: "embedding",
    shape,
    async run(rt) {
      const rng = new Rng(BT * 131 + C);
      // Half the positions draw from 12 hot tokens (long sums), the rest from [0, 250):
      // tokens 250..299 never occur.
      const tokens = new Uint32Array(BT);
      for (let i = 0; i < BT; i++) tokens[i] = rng.uniform() < 0.5 ? rng.int(12) : rng.int(250);
      const wte = rng.normals(V * C), dout = rng.normals(BT * C), dwte0 = rng.normals(V * C);
      const { rowStart, positions } = ref.embeddingIndex(tokens, V);

      const tTok = upload(rt, tokens, "tokens"),
        tWte = upload(rt, wte, "wte"),
        tOut = rt.tensor(BT * C);
      const tDout = upload(rt, dout, "dout"), tDwte = upload(rt, dwte0, "dwte");
      const tStart = upload(rt, rowStart, "rowStart"), tPos = upload(rt, positions, "positions");
      embeddingForward(rt, tOut, tTok, tWte, BT, C);
      embeddingBackward(rt, tDwte, tDout, tStart, tPos, V, C);
      const got = await rt.read(tDwte);
      // Same inputs again: the ordered sums must reproduce every bit.
      rt.write(tDwte, dwte0);
      embeddingBackward(rt, tDwte, tDout, tStart, tPos, V, C);
      const again = await rt.read(tDwte);

      const out = new Float32Array(BT * C), dwte = dwte0.slice();
      ref.embeddingForward(out, tokens, wte, BT, C);
      ref.embeddingBackward(dwte, dout, rowStart, positions, V, C);
      let maxCount = 0;
      for (let v = 0; v < V; v++) maxCount = Math.max(maxCount, rowStart[v + 1] - rowStart[v]);
      const results = [
        // A gather is a copy: exact.
        compare("embedding.forward", shape, "out", await rt.read(tOut), out, 0, 0),
        // maxCount float32 additions of O(1) values (≈45 for the hot tokens at BT = 1000):
        // the error grows with the count.
        compare("embedding.backward", shape, "dwte", got, dwte, 1e-7 * maxCount, 1e-6),
        compare("embedding.backward", shape, "dwte rerun bits", again, got, 0, 0),
      ];
      for (const t of [tTok, tWte, tOut, tDout, tDwte, tStart, tPos]) rt.dispose(t);
      return results;
    },
  };
});
