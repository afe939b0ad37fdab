import { assertEquals, assertThrows } from "../testing/assert.ts";
import { Bpe } from "./bpe.ts";
import { DataError } from "./errors.ts";
import { Rng } from "../util/rng.ts";

/** The textbook algorithm: repeatedly merge the leftmost pair of lowest rank. */
function naiveBpe(word: string, merges: [string, string][]): string[] {
  const rank = new Map(merges.map(([a, b], i) => [`${a}\u0000${b}`, i]));
  const syms = [...word];
  for (;;) {
    let best = -1, bestRank = Infinity;
    for (let i = 0; i + 1 < syms.length; i++) {
      const r = rank.get(`${syms[i]}\u0000${syms[i + 1]}`);
      if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
    }
    if (best < 0) return syms;
    syms.splice(best, 2, syms[best] + syms[best + 1]);
  }
}

function model(merges: [string, string][], alphabet: string[]): { bpe: Bpe; vocab: string[] } {
  const vocab = [...alphabet];
  for (const [a, b] of merges) if (!vocab.includes(a + b)) vocab.push(a + b);
  const bpe = new Bpe({ vocab: new Map(vocab.map((t, i) => [t, i])), merges, source: "t" });
  return { bpe, vocab };
}

Deno.test("Bpe matches the textbook algorithm on random words", () => {
  const rng = new Rng(7);
  const alphabet = ["a", "b", "c", "d"];
  for (let trial = 0; trial < 20; trial++) {
    // Random merges over tokens built so far.
    const tokens = [...alphabet];
    const merges: [string, string][] = [];
    for (let k = 0; k < 12; k++) {
      const a = tokens[rng.int(tokens.length)], b = tokens[rng.int(tokens.length)];
      if (merges.some(([x, y]) => x === a && y === b)) continue;
      merges.push([a, b]);
      if (!tokens.includes(a + b)) tokens.push(a + b);
    }
    const { bpe, vocab } = model(merges, alphabet);
    for (let w = 0; w < 30; w++) {
      let word = "";
      const len = 1 + rng.int(40);
      for (let i = 0; i < len; i++) word += alphabet[rng.int(4)];
      const out: number[] = [];
      bpe.encodeWord(word, out);
      assertEquals(out.map((id) => vocab[id]), naiveBpe(word, merges), word);
    }
  }
});

Deno.test("Bpe merges long words", () => {
  const { bpe } = model([["a", "a"], ["aa", "aa"]], ["a"]);
  const out: number[] = [];
  bpe.encodeWord("a".repeat(100_001), out);
  assertEquals(out.length, 25_001);
  assertEquals(out.slice(-2), [2, 0]);
});

Deno.test("Bpe rejects merges of unknown tokens", () => {
  assertEquals(
    assertThrows(
      () => new Bpe({ vocab: new Map([["a", 0]]), merges: [["a", "a"]], source: "x.json" }),
      DataError,
    )
      .message,
    'x.json: model.merges[0] uses "aa", which is not in the vocab',
  );
});
