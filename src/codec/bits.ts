/**
 * Bit-level writing and reading, least significant bit first within each byte, and the
 * Golomb–Rice code used for index gaps.
 *
 * @module
 */

import { CodecError } from "./errors.ts";
import type { CodecErrorLocation } from "./errors.ts";

/** Bits needed for values 0..n−1: ceil(log2 n), and 0 for n ≤ 1. */
export function bitsFor(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

/** Bits a Rice code with parameter `b` spends on `gap`: unary quotient, stop bit, b low bits. */
export function riceBits(gap: number, b: number): number {
  return (gap >>> b) + 1 + b;
}

/**
 * The Rice parameter for a list of gaps: the smallest b in 0..maxB with the fewest total bits.
 * Fixed by rule so that every encoder produces the same bytes. Returns [b, total bits].
 */
export function chooseRiceParameter(
  gaps: ArrayLike<number>,
  maxB: number,
): [b: number, bits: number] {
  const cost = new Float64Array(maxB + 1);
  for (let i = 0; i < gaps.length; i++) {
    const g = gaps[i];
    for (let b = 0; b <= maxB; b++) cost[b] += riceBits(g, b);
  }
  let best = 0;
  for (let b = 1; b <= maxB; b++) if (cost[b] < cost[best]) best = b;
  return [best, cost[best]];
}

/** Writes bits into a buffer of known size, LSB first. */
export class BitWriter {
  /** The output; its unused tail bits stay zero. */
  readonly bytes: Uint8Array;
  private bit = 0;

  constructor(byteLength: number) {
    this.bytes = new Uint8Array(byteLength);
  }

  /** Bits written so far. */
  get bitLength(): number {
    return this.bit;
  }

  /** Writes the low `n` bits of `value` (n ≤ 24). */
  write(value: number, n: number): void {
    let bit = this.bit;
    let v = value;
    let left = n;
    while (left > 0) {
      const off = bit & 7;
      const take = Math.min(8 - off, left);
      this.bytes[bit >> 3] |= (v & ((1 << take) - 1)) << off;
      v >>>= take;
      bit += take;
      left -= take;
    }
    this.bit = bit;
  }

  /** Writes `gap` as a Rice code with parameter `b`. */
  writeRice(gap: number, b: number): void {
    let q = gap >>> b;
    while (q >= 24) {
      this.write(0xffffff, 24);
      q -= 24;
    }
    this.write((1 << q) - 1, q + 1); // q ones, then the zero stop bit
    this.write(gap & ((1 << b) - 1), b);
  }
}

/**
 * Reads bits from `bytes[start, start + length)`, LSB first. Every read is checked against the
 * end; errors are `CodecError`s located at the message's byte offset.
 */
export class BitReader {
  private bit = 0;
  private readonly limit: number;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly start: number,
    length: number,
    private readonly where: CodecErrorLocation,
  ) {
    this.limit = length * 8;
  }

  /** Bits read so far. */
  get bitLength(): number {
    return this.bit;
  }

  private fail(what: string, tile?: number): never {
    throw new CodecError(what, { ...this.where, tile, offset: this.start + (this.bit >> 3) });
  }

  /** Reads an `n`-bit value (n ≤ 24). */
  read(n: number, tile?: number): number {
    if (this.bit + n > this.limit) this.fail("truncated bit stream", tile);
    let v = 0;
    let got = 0;
    let bit = this.bit;
    while (got < n) {
      const off = bit & 7;
      const take = Math.min(8 - off, n - got);
      v |= ((this.bytes[this.start + (bit >> 3)] >> off) & ((1 << take) - 1)) << got;
      got += take;
      bit += take;
    }
    this.bit = bit;
    return v;
  }

  /**
   * Reads a Rice code with parameter `b` whose value may not exceed `max`; a longer unary run
   * fails at once, so a lying stream cannot make the reader loop.
   */
  readRice(b: number, max: number, tile?: number): number {
    const maxQ = max >>> b;
    let q = 0;
    for (;;) {
      if (this.bit >= this.limit) this.fail("truncated bit stream", tile);
      const one = (this.bytes[this.start + (this.bit >> 3)] >> (this.bit & 7)) & 1;
      this.bit++;
      if (one === 0) break;
      if (++q > maxQ) this.fail("index gap out of range", tile);
    }
    const value = q * (1 << b) + this.read(b, tile);
    if (value > max) this.fail("index gap out of range", tile);
    return value;
  }

  /** Checks that the stream ended exactly: all bytes used and the padding bits zero. */
  finish(): void {
    if (((this.bit + 7) >> 3) * 8 !== this.limit) {
      this.fail(`bit stream has ${(this.limit >> 3) - ((this.bit + 7) >> 3)} unused bytes`);
    }
    const pad = (8 - (this.bit & 7)) & 7;
    if (pad > 0 && this.read(pad) !== 0) this.fail("nonzero padding bits");
  }
}
