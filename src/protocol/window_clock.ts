/**
 * Which window is open when. Window w covers [windowStart(w), windowEnd(w)); windowEnd(w) is
 * windowStart(w + 1). The time-based clock derives them from the genesis; a chain-based clock
 * (windows as block ranges) can implement the same interface later.
 *
 * @module
 */

/** Maps times (ms since the epoch) to windows and back. */
export interface WindowClock {
  /** The window open at `ms`; negative before window 0 starts. */
  windowAt(ms: number): number;
  /** When window `w` opens (ms). */
  windowStart(w: number): number;
  /** When window `w` closes (ms, exclusive): the start of window w + 1. */
  windowEnd(w: number): number;
}

/** Highest window number (the wire carries windows as uint32). */
export const MAX_WINDOW = 0xffffffff;

/**
 * Windows of fixed length from the genesis time: window w opens at
 * `genesisTime + w · windowMs`. Integer arithmetic only, so every peer agrees exactly.
 *
 * @example
 * ```ts
 * const clock = TimeWindowClock.fromGenesis(genesis);
 * const w = clock.windowAt(Date.now());
 * setTimeout(publish, clock.windowEnd(w) - Date.now());
 * ```
 */
export class TimeWindowClock implements WindowClock {
  /** Start of window 0 (ms since the epoch). */
  readonly genesisTime: number;
  /** Window length (ms). */
  readonly windowMs: number;

  /** Throws `RangeError` unless both are integers, `genesisTime` ≥ 0 and `windowMs` ≥ 1. */
  constructor(genesisTime: number, windowMs: number) {
    if (!Number.isSafeInteger(genesisTime) || genesisTime < 0) {
      throw new RangeError(`genesisTime must be an integer ≥ 0 (ms), got ${genesisTime}`);
    }
    if (!Number.isSafeInteger(windowMs) || windowMs < 1) {
      throw new RangeError(`windowMs must be a positive integer, got ${windowMs}`);
    }
    this.genesisTime = genesisTime;
    this.windowMs = windowMs;
  }

  /** The clock of a genesis (anything with `genesisTime` and `windowMs`). */
  static fromGenesis(g: { genesisTime: number; windowMs: number }): TimeWindowClock {
    return new TimeWindowClock(g.genesisTime, g.windowMs);
  }

  /** The window open at `ms` (floor division: negative before genesis). Throws on a non-finite time. */
  windowAt(ms: number): number {
    if (!Number.isFinite(ms)) throw new RangeError(`windowAt: time must be finite, got ${ms}`);
    return Math.floor((ms - this.genesisTime) / this.windowMs);
  }

  /** Start of window `w` (an integer in 0..MAX_WINDOW, else `RangeError`). */
  windowStart(w: number): number {
    checkWindow(w);
    return this.genesisTime + w * this.windowMs;
  }

  /** End of window `w` (exclusive): the start of window w + 1. */
  windowEnd(w: number): number {
    checkWindow(w);
    return this.genesisTime + (w + 1) * this.windowMs;
  }
}

function checkWindow(w: number): void {
  if (!Number.isInteger(w) || w < 0 || w > MAX_WINDOW) {
    throw new RangeError(`window must be an integer in [0, ${MAX_WINDOW}], got ${w}`);
  }
}
