import { Rng } from "../util/rng.ts";
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { compressTensor } from "../reference/sparseloco/compress.ts";
import type { CompressOptions } from "../reference/sparseloco/compress.ts";
import { CodecError } from "./errors.ts";
import {
  decodeUpdate,
  DEFAULT_MAX_UPDATE_BYTES,
  encodeUpdate,
  UPDATE_HEADER_BYTES,
} from "./update_codec.ts";
import type { IndexMode, Update, UpdateTensor } from "./update_codec.ts";

/** Bytes a tensor spends besides its index stream and codes, for ndims = 2. */
const TENSOR_OVERHEAD_2D = 2 + 1 + 8 + 12 + 16 + 1 + 4;

function bytes32(seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: 32 }, () => rng.int(256));
}

function makeUpdate(
  shapes: number[][],
  mode: IndexMode,
  seed = 1,
  options: Partial<CompressOptions> = {},
): Update {
  const rng = new Rng(seed);
  const tensors = shapes.map((shape, id): UpdateTensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = compressTensor(rng.normals(n, 0.01), new Float32Array(n), shape, options);
    return { id, ...t } as UpdateTensor;
  });
  return {
    indexMode: mode,
    runId: bytes32(seed + 100),
    window: 123456 + seed,
    modelHash: bytes32(seed + 200),
    tensors,
  };
}

const SHAPES = [[256, 256], [100, 48], [70], [1, 64], [67, 5], [4, 32, 96], [64]];

Deno.test("decodeUpdate gives back exactly what was encoded, in both modes", () => {
  for (const mode of [0, 1] as const) {
    for (const seed of [1, 2, 3]) {
      const u = makeUpdate(SHAPES, mode, seed);
      const bytes = encodeUpdate(u);
      const back = decodeUpdate(bytes);
      assertEquals(back, u, `mode ${mode}`);
      assertEquals(encodeUpdate(back), bytes);
    }
    // Small k, and k = a whole tile of a matrix.
    assertEquals(decodeUpdate(encodeUpdate(makeUpdate(SHAPES, mode, 4, { k: 1 }))).tensors[0].k, 1);
    const all = makeUpdate([[128, 64]], mode, 5, { k: Infinity });
    assertEquals(decodeUpdate(encodeUpdate(all)), all);
  }
});

Deno.test("decodeUpdate checks what the receiver expects", () => {
  const u = makeUpdate(SHAPES, 1);
  const bytes = encodeUpdate(u);
  const expected = {
    runId: u.runId,
    window: u.window,
    modelHash: u.modelHash,
    tensorShapes: SHAPES,
    tiles: {},
    k: 64,
    indexMode: 1 as const,
  };
  assertEquals(decodeUpdate(bytes, { expected }), u);
  const bad = [
    [{ ...expected, runId: bytes32(9) }, "wrong run id"],
    [{ ...expected, window: u.window + 1 }, "window"],
    [{ ...expected, modelHash: bytes32(9) }, "wrong model hash"],
    [{ ...expected, tensorShapes: SHAPES.slice(1) }, "tensors, expected"],
    [{ ...expected, tensorShapes: [[256, 128], ...SHAPES.slice(1)] }, "shape [256,256]"],
    [{ ...expected, k: 32 }, "k 64, expected 32"],
    [{ ...expected, tiles: { maxSide: 32 } }, "expected 32×32"],
    [{ ...expected, indexMode: 0 as const }, "index mode 1, expected 0"],
  ] as const;
  for (const [exp, msg] of bad) {
    assertThrows(() => decodeUpdate(bytes, { expected: exp }), CodecError, msg);
  }
});

Deno.test("encodeUpdate sorts each tile's indices and moves the codes along", () => {
  const u = makeUpdate([[64, 64], [70]], 0);
  const t = u.tensors[0];
  const scrambled: UpdateTensor = { ...t, indices: t.indices.slice(), codes: t.codes.slice() };
  scrambled.indices.reverse();
  scrambled.codes.reverse();
  for (const mode of [0, 1] as const) {
    const a = encodeUpdate({ ...u, indexMode: mode });
    const b = encodeUpdate({ ...u, indexMode: mode, tensors: [scrambled, u.tensors[1]] });
    assertEquals(b, a);
  }
});

Deno.test("encodeUpdate costs 112 bytes per 64-of-4096 tile in mode 0 and ≈76 in mode 1", () => {
  // One 64×64 tile.
  const one = makeUpdate([[64, 64]], 0);
  assertEquals(encodeUpdate(one).length, UPDATE_HEADER_BYTES + TENSOR_OVERHEAD_2D + 112);
  // 16 tiles of 64×64: exact in mode 0, measured in mode 1 (uniformly spread top-k entries).
  const sizes: number[][] = [];
  for (const seed of [1, 2, 3]) {
    const u = makeUpdate([[256, 256]], 0, seed);
    const perTile = (mode: IndexMode) =>
      (encodeUpdate({ ...u, indexMode: mode }).length - UPDATE_HEADER_BYTES -
        TENSOR_OVERHEAD_2D) / 16;
    sizes.push([perTile(0), perTile(1)]);
  }
  assertEquals(sizes, [[112, 76.125], [112, 75.9375], [112, 75.9375]]);
  for (const [, compact] of sizes) assert(compact >= 74 && compact <= 80, `${compact}`);
  // Whole-kept tiles (1-D tensors) spend no index bits: 70 codes in 18 bytes.
  const dense = makeUpdate([[70]], 0);
  const denseLength = UPDATE_HEADER_BYTES + 2 + 1 + 4 + 12 + 16 + 1 + 4 + 18;
  assertEquals(encodeUpdate(dense).length, denseLength);
  assertEquals(encodeUpdate({ ...dense, indexMode: 1 }).length, denseLength);
});

/** A one-tensor update by hand: a 3×4 tensor in one 3×4 tile (12 entries, 4-bit indices). */
function tiny(indices: number[], mode: IndexMode = 0): Update {
  return {
    indexMode: mode,
    runId: new Uint8Array(32),
    window: 7,
    modelHash: new Uint8Array(32),
    tensors: [{
      id: 0,
      shape: [3, 4],
      tileRows: 3,
      tileCols: 4,
      k: indices.length,
      indices: new Uint16Array(indices),
      codes: new Uint8Array(indices.map((_, i) => i % 4)),
      table: new Float32Array([-2, -1, 1, 2]),
    }],
  };
}
/** Offsets inside `tiny`'s message. */
const TINY = (() => {
  const t = UPDATE_HEADER_BYTES;
  const table = t + 2 + 1 + 8 + 12;
  return { ndims: t + 2, k: t + 2 + 1 + 8 + 8, table, rice: table + 16, indexBytes: table + 17 };
})();

Deno.test("decodeUpdate rejects bad headers with CodecError", () => {
  const good = encodeUpdate(tiny([1, 3]));
  const patched = (at: number, v: number) => {
    const b = good.slice();
    b[at] = v;
    return b;
  };
  assertThrows(() => decodeUpdate(patched(0, 0x58)), CodecError, "bad magic");
  assertThrows(() => decodeUpdate(patched(4, 2)), CodecError, "unsupported format version 2");
  assertThrows(() => decodeUpdate(patched(5, 2)), CodecError, "unknown index mode 2");
  assertThrows(() => decodeUpdate(patched(7, 1)), CodecError, "reserved");
  assertThrows(() => decodeUpdate(patched(76, 2)), CodecError, "2 tensors cannot fit in 46 bytes");
  assertThrows(() => decodeUpdate(patched(TINY.ndims, 0)), CodecError, "ndims 0");
  assertThrows(() => decodeUpdate(patched(TINY.ndims, 9)), CodecError, "ndims 9");
  assertThrows(() => decodeUpdate(patched(TINY.k, 13)), CodecError, "k 13 not in 1..12");
  assertThrows(() => decodeUpdate(new Uint8Array(10)), CodecError, "truncated: header");
  assertThrows(
    () => decodeUpdate(good, { maxBytes: good.length - 1 }),
    CodecError,
    "exceeds the limit",
  );
  assertEquals(DEFAULT_MAX_UPDATE_BYTES, 64 * 1024 * 1024);
});

Deno.test("decodeUpdate rejects every truncation and any trailing byte", () => {
  for (const mode of [0, 1] as const) {
    const good = encodeUpdate(makeUpdate([[64, 64], [70]], mode));
    for (let n = 0; n < good.length; n++) {
      assertThrows(() => decodeUpdate(good.subarray(0, n)), CodecError);
    }
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    assertThrows(() => decodeUpdate(longer), CodecError, "1 trailing bytes");
  }
});

Deno.test("decodeUpdate rejects bad indices, lengths, padding and tables", () => {
  // Mode 0, indices 1 and 3 in 4 bits each: stream byte 0x31.
  const good = encodeUpdate(tiny([1, 3]));
  const stream = TINY.indexBytes + 4;
  assertEquals(good[stream], 0x31);
  const patched = (at: number, v: number) => {
    const b = good.slice();
    b[at] = v;
    return b;
  };
  let e = assertThrows(() => decodeUpdate(patched(stream, 0x11)), CodecError, "duplicate index 1");
  assertEquals([e.tensor, e.tile, e.offset], [0, 0, stream]);
  assertThrows(() => decodeUpdate(patched(stream, 0x13)), CodecError, "index 1 not ascending");
  e = assertThrows(() => decodeUpdate(patched(stream, 0xd1)), CodecError, "index 13 outside");
  assert(e.message.endsWith(`(tensor 0, tile 0, byte ${stream})`), e.message);
  assertThrows(
    () => decodeUpdate(patched(TINY.indexBytes, 0)),
    CodecError,
    "index byte count 0, expected 1",
  );
  assertThrows(() => decodeUpdate(patched(TINY.rice, 1)), CodecError, "rice parameter 1 above 0");
  // Codes 0, 1 in one byte: bits above the second code are padding.
  assertThrows(() => decodeUpdate(patched(stream + 1, 0x14)), CodecError, "code padding");
  const nan = good.slice();
  new DataView(nan.buffer).setFloat32(TINY.table + 4, NaN, true);
  assertThrows(() => decodeUpdate(nan), CodecError, "table entry 1 is not finite");
  const inf = good.slice();
  new DataView(inf.buffer).setFloat32(TINY.table, -Infinity, true);
  assertThrows(() => decodeUpdate(inf), CodecError, "table entry 0");

  // Mode 1: a non-canonical Rice parameter, and gaps running past the tile.
  const compact = encodeUpdate(tiny([1, 3], 1));
  const c = compact.slice();
  c[TINY.rice] = 1;
  assertThrows(() => decodeUpdate(c), CodecError, "rice parameter");
  const truncated = compact.slice();
  truncated[TINY.indexBytes + 4] = 0xff; // a unary run longer than the 1-byte stream
  assertThrows(() => decodeUpdate(truncated), CodecError, "truncated bit stream");
  // A 64-of-4096 tile with b = 5: a first gap of 17·8 ones passes the end of the tile.
  const big = encodeUpdate(makeUpdate([[64, 64]], 1));
  big.fill(
    0xff,
    UPDATE_HEADER_BYTES + TENSOR_OVERHEAD_2D,
    UPDATE_HEADER_BYTES + TENSOR_OVERHEAD_2D + 17,
  );
  e = assertThrows(() => decodeUpdate(big), CodecError, "index gap out of range");
  assertEquals([e.tensor, e.tile], [0, 0]);
});

Deno.test("decodeUpdate answers every single-bit flip with an update or a CodecError", () => {
  for (const mode of [0, 1] as const) {
    const good = encodeUpdate(makeUpdate([[8, 16], [10]], mode, 6, { k: 5 }));
    let accepted = 0;
    for (let bit = 0; bit < good.length * 8; bit++) {
      const b = good.slice();
      b[bit >> 3] ^= 1 << (bit & 7);
      try {
        const u = decodeUpdate(b);
        assertEquals(encodeUpdate(u), b, `bit ${bit}`); // accepted ⇒ canonical
        accepted++;
      } catch (e) {
        if (!(e instanceof CodecError)) throw new Error(`bit ${bit}: ${e}`);
      }
    }
    // Flips in ids, hashes, window, tables and codes are still valid updates.
    assert(accepted > 0 && accepted < good.length * 8, `${accepted}`);
  }
});

Deno.test("encodeUpdate refuses malformed updates with CodecError", () => {
  const u = tiny([1, 3]);
  const t = u.tensors[0];
  const cases: [Update, string][] = [
    [{ ...u, window: -1 }, "window"],
    [{ ...u, window: 2 ** 32 }, "window"],
    [{ ...u, runId: new Uint8Array(31) }, "run id"],
    [{ ...u, indexMode: 2 as IndexMode }, "index mode"],
    [{ ...u, tensors: [{ ...t, indices: new Uint16Array([3, 3]) }] }, "duplicate index 3"],
    [{ ...u, tensors: [{ ...t, indices: new Uint16Array([1, 12]) }] }, "outside a tile"],
    [{ ...u, tensors: [{ ...t, codes: new Uint8Array([0, 4]) }] }, "code 4"],
    [{ ...u, tensors: [{ ...t, codes: new Uint8Array([0]) }] }, "expected 2"],
    [{ ...u, tensors: [{ ...t, table: new Float32Array([0, NaN, 0, 0]) }] }, "non-finite"],
    [{ ...u, tensors: [{ ...t, tileRows: 2 }] }, "does not divide"],
    [{ ...u, tensors: [t, t] }, "not ascending"],
  ];
  for (const [bad, msg] of cases) assertThrows(() => encodeUpdate(bad), CodecError, msg);
  const raw = { ...t, codes: undefined, table: undefined, values: new Float32Array(2) };
  assertThrows(
    () => encodeUpdate({ ...u, tensors: [raw as unknown as UpdateTensor] }),
    CodecError,
    "not quantized",
  );
});

Deno.test("decodeUpdate never trusts a length field for an allocation", () => {
  // A tensor claiming 2^32 × 2^16 entries in 1×1 tiles, k = 1, in a message of ~130 bytes.
  const good = encodeUpdate(tiny([1, 3]));
  const b = good.slice();
  const view = new DataView(b.buffer);
  view.setUint32(UPDATE_HEADER_BYTES + 3, 0xffffffff, true);
  view.setUint32(UPDATE_HEADER_BYTES + 7, 0xffff, true);
  view.setUint32(UPDATE_HEADER_BYTES + 11, 1, true);
  view.setUint32(UPDATE_HEADER_BYTES + 15, 1, true);
  view.setUint32(UPDATE_HEADER_BYTES + 19, 1, true);
  assertThrows(() => decodeUpdate(b), CodecError, "code bytes");
});
