/**
 * The BPE model of a Hugging Face `tokenizer.json`: vocabulary, ranked merges, and the merge
 * loop that turns one pre-tokenized word into ids.
 *
 * @module
 */

import { DataError } from "./errors.ts";

/** What {@linkcode Bpe} needs, already parsed from the file. */
export interface BpeOptions {
  /** Token string → id. */
  vocab: Map<string, number>;
  /** Merges in rank order (first = applied first). */
  merges: [string, string][];
  /** Token used for characters missing from the vocabulary, if any. */
  unkToken?: string | null;
  /** Fuse consecutive unknown characters into one unk token. */
  fuseUnk?: boolean;
  /** Encode characters missing from the vocabulary as `<0xXX>` byte tokens. */
  byteFallback?: boolean;
  /** Use a word's own token when the whole word is in the vocabulary (LLaMA-3). */
  ignoreMerges?: boolean;
  /** Names the file in error messages. */
  source: string;
}

// Caching whole words makes natural text several times faster; long words (e.g. a whole
// SentencePiece-style segment) are rare and not worth the memory.
const CACHE_MAX_WORD = 64;
const CACHE_MAX_ENTRIES = 100_000;

const encoder = new TextEncoder();

/**
 * A byte-pair-encoding model with Hugging Face semantics: each word starts as one symbol per
 * character; the adjacent pair with the lowest merge rank (leftmost on ties) is merged until
 * no ranked pair remains.
 */
export class Bpe {
  private readonly vocab: Map<string, number>;
  private readonly stride: number;
  // (left id * stride + right id) → rank; mergedId[rank] is the id of the merged token.
  private readonly ranks = new Map<number, number>();
  private readonly mergedId: Int32Array;
  private readonly unkId: number | undefined;
  private readonly fuseUnk: boolean;
  private readonly byteIds: Int32Array | undefined;
  private readonly ignoreMerges: boolean;
  private readonly cache = new Map<string, number[]>();

  /** Builds the model; throws {@linkcode DataError} when a merge or the unk token is unknown. */
  constructor(opts: BpeOptions) {
    const { vocab, merges, source } = opts;
    this.vocab = vocab;
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.stride = maxId + 1;
    if (this.stride > 2 ** 26) {
      throw new DataError(`${source}: model.vocab has ids up to ${maxId}, more than supported`);
    }
    this.mergedId = new Int32Array(merges.length);
    merges.forEach(([a, b], rank) => {
      const ia = vocab.get(a), ib = vocab.get(b), iab = vocab.get(a + b);
      for (const [tok, id] of [[a, ia], [b, ib], [a + b, iab]] as const) {
        if (id === undefined) {
          throw new DataError(
            `${source}: model.merges[${rank}] uses ${
              JSON.stringify(tok)
            }, which is not in the vocab`,
          );
        }
      }
      // A later duplicate overrides an earlier one, as in Hugging Face's loader.
      this.ranks.set(ia! * this.stride + ib!, rank);
      this.mergedId[rank] = iab!;
    });
    if (opts.unkToken != null) {
      this.unkId = vocab.get(opts.unkToken);
      if (this.unkId === undefined) {
        throw new DataError(
          `${source}: model.unk_token ${JSON.stringify(opts.unkToken)} is not in the vocab`,
        );
      }
    }
    this.fuseUnk = opts.fuseUnk ?? false;
    this.ignoreMerges = opts.ignoreMerges ?? false;
    if (opts.byteFallback) {
      this.byteIds = new Int32Array(256).fill(-1);
      for (let b = 0; b < 256; b++) {
        const id = vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
        if (id !== undefined) this.byteIds[b] = id;
      }
    }
  }

  /** Appends the ids of one pre-tokenized word to `out`. */
  encodeWord(word: string, out: number[]): void {
    if (word.length === 0) return;
    const cacheable = word.length <= CACHE_MAX_WORD;
    if (cacheable) {
      const hit = this.cache.get(word);
      if (hit) {
        for (const id of hit) out.push(id);
        return;
      }
    }
    const ids = this.merge(this.symbols(word));
    if (cacheable) {
      if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
      this.cache.set(word, ids);
    }
    for (const id of ids) out.push(id);
  }

  /** Initial symbols: one per character, falling back to byte tokens, then to unk. */
  private symbols(word: string): number[] {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) return [whole];
    }
    const syms: number[] = [];
    let pendingUnk = false;
    const flushUnk = () => {
      if (pendingUnk) syms.push(this.unkId!);
      pendingUnk = false;
    };
    for (const ch of word) {
      const id = this.vocab.get(ch);
      if (id !== undefined) {
        flushUnk();
        syms.push(id);
        continue;
      }
      if (this.byteIds) {
        const bytes = encoder.encode(ch);
        if (bytes.every((b) => this.byteIds![b] >= 0)) {
          flushUnk();
          for (const b of bytes) syms.push(this.byteIds[b]);
          continue;
        }
      }
      if (this.unkId !== undefined) {
        if (!this.fuseUnk) flushUnk();
        pendingUnk = true;
      }
      // Without an unk token the character is dropped, as Hugging Face does.
    }
    flushUnk();
    return syms;
  }

  /** Applies merges, lowest rank first (leftmost on ties), using a heap and a linked list. */
  private merge(ids: number[]): number[] {
    const n = ids.length;
    if (n < 2 || this.ranks.size === 0) return ids;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // Heap entries pack (rank, position) into one number: rank * n + pos orders by rank,
    // then by position.
    const heap = new MinHeap();
    const push = (pos: number) => {
      const nx = next[pos];
      if (nx < 0) return;
      const rank = this.ranks.get(ids[pos] * this.stride + ids[nx]);
      if (rank !== undefined) heap.push(rank * n + pos);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.size > 0) {
      const top = heap.pop();
      const pos = top % n;
      const rank = (top - pos) / n;
      const nx = next[pos];
      // Skip entries made stale by earlier merges.
      if (!alive[pos] || nx < 0) continue;
      if (this.ranks.get(ids[pos] * this.stride + ids[nx]) !== rank) continue;
      ids[pos] = this.mergedId[rank];
      alive[nx] = 0;
      next[pos] = next[nx];
      if (next[nx] >= 0) prev[next[nx]] = pos;
      if (prev[pos] >= 0) push(prev[pos]);
      push(pos);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(ids[i]);
    return out;
  }
}

/** A binary min-heap of numbers. */
class MinHeap {
  private items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(x: number): void {
    const a = this.items;
    let i = a.length;
    a.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= x) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = x;
  }

  pop(): number {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      const n = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const c = l + 1 < n && a[l + 1] < a[l] ? l + 1 : l;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
