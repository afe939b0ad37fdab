import { assertEquals, assertThrows } from "../testing/assert.ts";
import { BIN_HEADER_BYTES, readBinShard, writeBinShard } from "./bin_shard.ts";
import { DataError } from "./errors.ts";

const header = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, 12);

Deno.test("writeBinShard writes the llm.c layout", () => {
  const u16 = writeBinShard([1, 2, 50256]);
  assertEquals(u16.length, BIN_HEADER_BYTES + 6);
  const h = header(u16);
  assertEquals([h.getInt32(0, true), h.getInt32(4, true), h.getInt32(8, true)], [20240520, 1, 3]);
  assertEquals([...u16.subarray(1024)], [1, 0, 2, 0, 0x50, 0xc4]);
  assertEquals([...u16.subarray(12, 1024)].every((b) => b === 0), true);

  const u32 = writeBinShard([1, 128000]);
  const g = header(u32);
  assertEquals([g.getInt32(0, true), g.getInt32(4, true), g.getInt32(8, true)], [20240801, 7, 2]);
  assertEquals([...u32.subarray(1024)], [1, 0, 0, 0, 0x00, 0xf4, 0x01, 0x00]);
});

Deno.test("readBinShard reads what writeBinShard wrote", () => {
  const tokens = Uint32Array.of(0, 1, 65535, 42, 7);
  assertEquals(readBinShard(writeBinShard(tokens), { source: "a.bin" }), tokens);
  assertEquals(readBinShard(writeBinShard(tokens, 4), { source: "a.bin" }), tokens);
  const big = Uint32Array.of(70000, 128255, 3);
  assertEquals(readBinShard(writeBinShard(big), { source: "b.bin", vocabSize: 128256 }), big);
  assertEquals(readBinShard(writeBinShard([]), { source: "c.bin" }), new Uint32Array(0));
  // A view into a larger buffer at an odd offset reads the same.
  const shard = writeBinShard(tokens);
  const padded = new Uint8Array(shard.length + 3);
  padded.set(shard, 1);
  assertEquals(readBinShard(padded.subarray(1, 1 + shard.length), { source: "a.bin" }), tokens);
});

Deno.test("readBinShard rejects corrupted shards", () => {
  const good = writeBinShard([5, 6, 7, 8]);
  const corrupt = (edit: (b: Uint8Array, v: DataView) => Uint8Array | void) => {
    const b = good.slice();
    return edit(b, new DataView(b.buffer)) ?? b;
  };
  const cases: [Uint8Array, string][] = [
    [good.subarray(0, 100), "too short for an llm.c shard: 100 bytes, the header alone is 1024"],
    [
      corrupt((_, v) => v.setInt32(0, 12345, true)),
      "bad magic 12345 (expected 20240520 or 20240801); not an llm.c shard",
    ],
    [
      corrupt((_, v) => v.setInt32(4, 7, true)),
      "unknown version 7 for magic 20240520 (expected 1)",
    ],
    [corrupt((_, v) => v.setInt32(8, -1, true)), "negative token count -1 in the header"],
    [
      good.subarray(0, good.length - 1),
      "truncated: the header says 4 tokens (8 bytes) but only 7 bytes follow",
    ],
    [
      corrupt((_, v) => v.setInt32(8, 3, true)),
      "2 bytes after the 3 tokens (6 bytes) the header declares",
    ],
    [
      corrupt((b) => {
        const out = new Uint8Array(b.length + 4);
        out.set(b);
        return out;
      }),
      "4 bytes after the 4 tokens (8 bytes) the header declares",
    ],
  ];
  for (const [bytes, message] of cases) {
    assertEquals(
      assertThrows(() => readBinShard(bytes, { source: "s.bin" }), DataError).message,
      `s.bin: ${message}`,
    );
  }
});

Deno.test("readBinShard checks tokens against the vocab size", () => {
  assertEquals(
    assertThrows(
      () => readBinShard(writeBinShard([1, 2, 300]), { source: "gpt2.bin", vocabSize: 256 }),
      DataError,
    )
      .message,
    "gpt2.bin: token 300 at index 2 is not below the vocab size 256 " +
      "(was the shard made with another tokenizer?)",
  );
});

Deno.test("writeBinShard rejects tokens that do not fit", () => {
  assertThrows(
    () => writeBinShard([70000], 2),
    DataError,
    /token 70000 does not fit in a uint16 shard/,
  );
  assertThrows(() => writeBinShard([-1]), RangeError);
  assertThrows(() => writeBinShard([1.5]), RangeError);
});
