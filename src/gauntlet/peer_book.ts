/**
 * What a validator knows about every peer it has seen: rating, assignment EMA, recent history,
 * penalties and bans, each with the reason behind it (GAUNTLET.md "Final score and
 * penalties"). Pure data in, pure data out: the validator persists `toJSON()` atomically after
 * every window, and a restarted validator scores on from `PeerBook.fromJSON`.
 *
 * Two rules guard the sign of a score, since the reference system was exploited through it: a
 * negative rating times a negative indicator never becomes positive, and no penalty ever moves
 * a negative score towards zero (see {@linkcode signedScale}).
 *
 * @module
 */

import type { GauntletSpec } from "../protocol/gauntlet_spec.ts";
import { copyVerdict, type Likeness } from "./copies.ts";
import { newRating, rateWindow, type Rating, ratingOrdinal } from "./ratings.ts";

/** One window's verdict on a peer. */
export type Outcome =
  /**
   * `assignZ`: the window's assignment z (src/gauntlet/assignment.ts); null or absent: not tested
   * (yet). `indicator` null: it is the assignment test's, which runs after the window's record
   * and comes in through {@linkcode PeerBook.assigned}.
   */
  | { kind: "evaluated"; gradScore: number; indicator: 1 | -1 | null; assignZ?: number | null }
  | { kind: "missing" }
  /** Sent an update but was not drawn for evaluation: present, not rated. */
  | { kind: "skipped" }
  | { kind: "malformed"; why: string };

/** A peer's entry. */
export interface PeerEntry {
  rating: Rating;
  /** EMA of the assignment indicator (starts at 0). */
  indicatorEma: number;
  /** Windows in which the peer was evaluated. */
  evaluations: number;
  /**
   * Indicators received since the last reset (own-data loss checks and assignment tests): the
   * `warmupWindows` warm-up counts these, not evaluations, since a key past the window's
   * `assignCap` is evaluated without an indicator, and an EMA that started at 0 and was seldom
   * fed would otherwise zero an honest key's score in a large swarm.
   */
  indicated: number;
  /** Last window evaluated (−1: never): sampling favours the longest unevaluated. */
  lastEvaluated: number;
  /** Recent windows, oldest first, at most `historyWindows`: present? evaluated negative? */
  recent: { window: number; present: boolean; negative: boolean }[];
  /** Consecutive windows without an update. */
  missStreak: number;
  /** Consecutive negative evaluations. */
  negativeStreak: number;
  /** Score factor of a copy verdict in the current window (1: none). */
  copyFactor: number;
  /** Excluded up to and including this window (−1: not banned). */
  bannedThrough: number;
  /** Why the peer is penalised, banned or left out now ("" when it is not). */
  reason: string;
  /** Whom a copy ban copied (null otherwise): round records name the victim. */
  copyOf: string | null;
  /** The last `assignWindows` assignment z values, oldest first. */
  assignZs: number[];
  /** Assignment tests since the last reset (the warm-up counts them). */
  assignTests: number;
  /** Last window whose assignment test was given this key (−1: never): the cap's order. */
  lastPicked: number;
  /** Σz of the `assignTests` tests since the last reset (the sequential test's evidence). */
  assignSum: number;
  /** Admitted by the sequential test (`assignSprtMu`) since the last reset. */
  admitted: boolean;
}

/** Why a peer may not enter an aggregate. */
export interface Exclusion {
  code: "banned" | "copy" | "negative-streak" | "not-own-data";
  /** A ban's last window (0 otherwise). */
  until: number;
  /** The victim of a copy (null otherwise). */
  other: string | null;
  /** One line for logs and the live view. */
  text: string;
}

/** Evidence that a key signed two different updates for one window. */
export interface Equivocation {
  address: string;
  window: number;
  /** The two payload hashes (hex) it announced. */
  payloads: [string, string];
}

/**
 * s scaled by a factor f in [0, 1] without helping a negative score: s·f when s ≥ 0, else
 * s·(2 − f) (f 1 keeps it, f 0 doubles it). Never changes the sign.
 */
export function signedScale(s: number, f: number): number {
  return s >= 0 ? s * f : s * (2 - f);
}

/** No baseline: the copy thresholds apply to the likeness itself. */
const NO_BASELINE: Likeness = Object.freeze({ overlap: 0, cosine: 0 });

/** A likeness for a reason, with the baseline it was judged against when there is one. */
function likenessText(overlap: number, cosine: number, base: Likeness): string {
  const l = `overlap ${overlap.toFixed(2)}, cosine ${cosine.toFixed(2)}`;
  return base.overlap > 0 || base.cosine > 0
    ? `${l}; window's baseline ${base.overlap.toFixed(2)}, ${base.cosine.toFixed(2)}`
    : l;
}

/** The sequential test's bound on Σz after `n` tests: ln(1/α) / μ + n·μ / 2 (Wald). */
function admitBound({ assignSprtMu: mu, assignSprtAlpha: alpha }: GauntletSpec, n: number): number {
  return Math.log(1 / alpha) / mu + (n * mu) / 2;
}

/** Short form of an address for reasons. */
const short = (a: string) => `${a.slice(0, 6)}…`;

/** The book. */
export class PeerBook {
  readonly #spec: GauntletSpec;
  readonly #peers: Map<string, PeerEntry>;
  readonly #evidence: Equivocation[];

  constructor(spec: GauntletSpec, peers = new Map<string, PeerEntry>(), evidence: Equivocation[] = []) {
    this.#spec = spec;
    this.#peers = peers;
    this.#evidence = evidence;
  }

  /** The entry of `address`, created fresh when it is new. */
  entry(address: string): PeerEntry {
    let e = this.#peers.get(address);
    if (e === undefined) {
      e = {
        rating: newRating(),
        indicatorEma: 0,
        evaluations: 0,
        indicated: 0,
        lastEvaluated: -1,
        recent: [],
        missStreak: 0,
        negativeStreak: 0,
        copyFactor: 1,
        bannedThrough: -1,
        reason: "",
        copyOf: null,
        assignZs: [],
        assignTests: 0,
        lastPicked: -1,
        assignSum: 0,
        admitted: false,
      };
      this.#peers.set(address, e);
    }
    return e;
  }

  /** Addresses known, in insertion order. */
  get addresses(): string[] {
    return [...this.#peers.keys()];
  }

  /** Equivocation evidence logged so far. */
  get evidence(): readonly Equivocation[] {
    return this.#evidence;
  }

  /** Why `address` may not enter window `w`'s aggregate (null: it may). */
  exclusion(address: string, w: number): Exclusion | null {
    const e = this.#peers.get(address);
    if (e === undefined) return null;
    if (e.bannedThrough >= w) {
      return {
        code: e.copyOf === null ? "banned" : "copy",
        until: e.bannedThrough,
        other: e.copyOf,
        text: `banned until window ${e.bannedThrough + 1} (${e.reason})`,
      };
    }
    if (e.negativeStreak >= this.#spec.negativeStreak) {
      return {
        code: "negative-streak",
        until: 0,
        other: null,
        text: `${e.negativeStreak} negative evaluations in a row`,
      };
    }
    if (this.#spec.assignPassZ > 0) {
      // The burden of proof: out until shown (src/protocol/gauntlet_spec.ts `assignPassZ`).
      if (this.#spec.assignSprtMu > 0 && !e.admitted && e.assignTests > 0) {
        return {
          code: "not-own-data",
          until: 0,
          other: null,
          text: `on probation: not yet shown to train on its assigned data (Σz ${e.assignSum.toFixed(2)} < ${
            admitBound(this.#spec, e.assignTests).toFixed(2)
          } over ${e.assignTests} tests)`,
        };
      }
      const c = this.#assignCombined(e);
      if (c === null || c < this.#spec.assignPassZ) {
        return {
          code: "not-own-data",
          until: 0,
          other: null,
          text: c === null
            ? "on probation: no assignment test yet"
            : `not shown to train on its assigned data (combined z ${c.toFixed(2)} < ${this.#spec.assignPassZ} over ${e.assignZs.length} tests)`,
        };
      }
    }
    const z = this.#assignMean(e);
    if (z !== null && z < this.#spec.assignZ) {
      return {
        code: "not-own-data",
        until: 0,
        other: null,
        text: `not shown to train on its assigned data (mean z ${z.toFixed(2)} over ${e.assignZs.length} windows)`,
      };
    }
    return null;
  }

  /**
   * The keys window `w`'s assignment test covers, of `addresses` (the updates that passed), at
   * most `assignCap` (GauntletSpec). Half the cap (rounded down) is kept for keys on probation
   * whose tests so far lean towards admission (Σz above n·μ/2 of the sequential test, the
   * midline of its likelihood ratio; without it Σz > 0), the longest since their last pick
   * first: fresh keys, however many a window (Sybils are free), cannot starve a newcomer
   * halfway through its admission, and keys that failed their tests do not hold that half
   * against the fresh ones. The rest (and any of that half left over) goes to keys on
   * probation first (no test yet, or the combined z short of `assignPassZ`, or not yet
   * admitted), then the longest since their last pick. Ties go to the key first seen (the
   * book's order), so that an address ground to sort first buys nothing; not to the fewest
   * tests, which fresh keys always have. The chosen ones are marked picked in `w`. A key whose
   * test is later replaced or dropped has lost its turn, not its place: it is again among the
   * longest unpicked soon. Returned in address order (the test pairs each candidate with its
   * neighbours in the list).
   */
  assignmentPick(addresses: readonly string[], w: number): string[] {
    const s = this.#spec;
    const proving = (e: PeerEntry) => {
      if (s.assignPassZ <= 0) return false;
      const c = this.#assignCombined(e);
      return c === null || c < s.assignPassZ || (s.assignSprtMu > 0 && !e.admitted);
    };
    for (const a of addresses) this.entry(a);
    const seen = new Map(this.addresses.map((a, i) => [a, i]));
    type Key = { a: string; e: PeerEntry; p: boolean };
    const byTurn = (x: Key, y: Key) => x.e.lastPicked - y.e.lastPicked || seen.get(x.a)! - seen.get(y.a)!;
    const keys: Key[] = [...new Set(addresses)].map((a) => {
      const e = this.entry(a);
      return { a, e, p: proving(e) };
    });
    const leaning = ({ e }: Key) => e.assignTests > 0 && e.assignSum > (e.assignTests * s.assignSprtMu) / 2;
    const returning = keys.filter((k) => k.p && leaning(k)).sort(byTurn)
      .slice(0, Math.floor(s.assignCap / 2));
    const kept = new Set(returning.map((k) => k.a));
    const rest = keys.filter((k) => !kept.has(k.a)).sort((x, y) => Number(y.p) - Number(x.p) || byTurn(x, y));
    const chosen = [...returning, ...rest].slice(0, s.assignCap).map((k) => k.a);
    for (const a of chosen) this.entry(a).lastPicked = w;
    return chosen.sort();
  }

  /** The mean assignment z once past the warm-up (null before, or without tests). */
  #assignMean(e: PeerEntry): number | null {
    if (e.assignTests < this.#spec.assignWarmup || e.assignZs.length === 0) return null;
    return e.assignZs.reduce((a, b) => a + b, 0) / e.assignZs.length;
  }

  /** Stouffer's combined z of the last `assignWindows` tests, Σz / √m (null without tests). */
  #assignCombined(e: PeerEntry): number | null {
    if (e.assignZs.length === 0) return null;
    return e.assignZs.reduce((a, b) => a + b, 0) / Math.sqrt(e.assignZs.length);
  }

  /** Bans `address` through window `w + banWindows − 1` and resets its rating. */
  ban(address: string, w: number, reason: string, copyOf: string | null = null): void {
    const e = this.entry(address);
    this.#reset(e);
    e.bannedThrough = w + this.#spec.banWindows - 1;
    e.reason = reason;
    e.copyOf = copyOf;
  }

  /**
   * `address` sent, in window `w`, an update that is an older window's update of `of` (itself or
   * another) replayed: reset and banned as a copy. `base`: the baseline the likeness was judged
   * against (src/gauntlet/copies.ts `windowBaseline`), for the reason.
   */
  replayed(
    address: string,
    of: string,
    overlap: number,
    cosine: number,
    w: number,
    base = NO_BASELINE,
  ): string {
    const l = likenessText(overlap, cosine, base);
    const what = `replay of ${short(of)}'s update of window ${w - 1} (${l})`;
    this.ban(address, w, what, of);
    return what;
  }

  /** Logs equivocation evidence and bans the key. */
  equivocated(ev: Equivocation): void {
    this.#evidence.push(ev);
    this.ban(ev.address, ev.window, `equivocation in window ${ev.window}`);
  }

  /**
   * `address` uploaded after `of`, with `overlap` / `cosine` likeness (src/gauntlet/copies.ts):
   * halve, reset, or reset and ban, as the thresholds say of the likeness in excess of the
   * window's honest baseline `base` (none: the fixed thresholds). Returns the verdict (null:
   * none).
   */
  copied(
    address: string,
    of: string,
    overlap: number,
    cosine: number,
    w: number,
    base = NO_BASELINE,
  ): string | null {
    const e = this.entry(address);
    const what = `copy of ${short(of)} (${likenessText(overlap, cosine, base)})`;
    const verdict = copyVerdict({ overlap, cosine }, base, this.#spec);
    if (verdict === "ban") {
      this.ban(address, w, what, of);
    } else if (verdict === "reset") {
      this.#reset(e);
      e.reason = what;
    } else if (verdict === "halve") {
      e.copyFactor = Math.min(e.copyFactor, 0.5);
      e.reason = what;
    } else return null;
    return what;
  }

  /**
   * Closes window `w`: rates the evaluated peers (ranked by gradient score; missing and
   * malformed ones enter with the floor score) and updates every history and penalty.
   * `outcomes` covers the peers judged this window; known peers not in it count as missing.
   */
  closeWindow(w: number, outcomes: ReadonlyMap<string, Outcome>): void {
    const s = this.#spec;
    const judged = [...outcomes.keys()].filter((a) =>
      outcomes.get(a)!.kind !== "skipped" && !(this.entry(a).bannedThrough >= w)
    );
    const rated = judged.map((a) => this.entry(a));
    const scores = judged.map((a) => {
      const o = outcomes.get(a)!;
      return o.kind === "evaluated" && Number.isFinite(o.gradScore) ? o.gradScore : s.floorScore;
    });
    rateWindow(rated.map((e) => e.rating), scores, s).forEach((r, i) => (rated[i].rating = r));
    for (const address of new Set([...this.#peers.keys(), ...outcomes.keys()])) {
      const e = this.entry(address), o = outcomes.get(address) ?? { kind: "missing" as const };
      const present = o.kind !== "missing";
      // The indicator alone is never a negative evaluation: one window's is noisy (a coin flip
      // for the reference's test on the tiny model, which left honest peers out after three
      // unlucky windows in a real swarm); the assignment test's mean decides instead.
      const negative = o.kind === "malformed" || (o.kind === "evaluated" && o.gradScore <= 0);
      e.recent.push({ window: w, present, negative });
      while (e.recent.length > s.historyWindows) e.recent.shift();
      if (o.kind === "evaluated") {
        e.evaluations++;
        e.lastEvaluated = w;
        if (o.assignZ !== undefined && o.assignZ !== null) this.#assign(e, o.assignZ);
        else if (o.indicator !== null) this.#indicate(e, o.indicator);
      }
      e.missStreak = present ? 0 : e.missStreak + 1;
      if (o.kind === "evaluated" || o.kind === "malformed") {
        e.negativeStreak = negative ? e.negativeStreak + 1 : 0;
      }
      if (e.bannedThrough >= w) continue;
      e.reason = "";
      e.copyOf = null;
      const absent = e.recent.filter((r) => !r.present).length;
      if (e.recent.length >= s.historyWindows && absent >= s.absentShare * s.historyWindows) {
        this.ban(address, w, `absent in ${absent} of the last ${e.recent.length} windows`);
      } else if (e.missStreak >= s.missFactors.length) {
        this.#reset(e);
        e.reason = `missing ${e.missStreak} windows in a row`;
      } else if (o.kind === "malformed") {
        e.reason = `malformed update: ${o.why}`;
      } else if (e.negativeStreak >= s.negativeStreak) {
        e.reason = `${e.negativeStreak} negative evaluations in a row`;
      } else {
        e.reason = this.exclusion(address, w)?.text ?? "";
      }
    }
  }

  /**
   * The assignment z values of window `w` (measured after its record, while window w + 1 ran):
   * each becomes the peer's indicator of window `w` and enters its mean z, so a peer below the
   * threshold is left out from window w + 1's record on. A peer banned or reset since (its
   * history starts afresh) gets nothing; a NaN z is no test.
   */
  assigned(w: number, zs: ReadonlyMap<string, number>): void {
    for (const [address, z] of zs) {
      const e = this.#peers.get(address);
      if (e === undefined || Number.isNaN(z) || e.bannedThrough > w || e.evaluations === 0) continue;
      this.#assign(e, z);
      if (e.reason === "") e.reason = this.exclusion(address, w + 1)?.text ?? "";
    }
  }

  #assign(e: PeerEntry, raw: number): void {
    // A non-finite drop's −∞ kept finite: the book is JSON (−∞ was written as null, and the
    // book read back as damaged), and −1000 still bars the key for long.
    const z = Math.max(raw, -1e3);
    this.#indicate(e, z >= this.#spec.assignZ ? 1 : -1);
    e.assignZs.push(z);
    while (e.assignZs.length > this.#spec.assignWindows) e.assignZs.shift();
    e.assignTests++;
    e.assignSum += z;
    if (this.#spec.assignSprtMu > 0 && e.assignSum >= admitBound(this.#spec, e.assignTests)) e.admitted = true;
  }

  #indicate(e: PeerEntry, indicator: 1 | -1): void {
    const a = this.#spec.indicatorEma;
    e.indicatorEma = (1 - a) * e.indicatorEma + a * indicator;
    e.indicated++;
  }

  /**
   * The final score of `address` after the last closed window: rating ordinal × assignment
   * indicator (0 below its threshold after the warm-up), then the penalty factors, all
   * through {@linkcode signedScale}. Banned: 0 (and credit nothing).
   */
  score(address: string, w: number): number {
    const s = this.#spec, e = this.#peers.get(address);
    if (e === undefined) return 0;
    if (e.bannedThrough >= w) return 0;
    const ema = e.indicated >= s.warmupWindows && e.indicatorEma < s.indicatorMin ? 0 : e.indicatorEma;
    const ordinal = ratingOrdinal(e.rating);
    // ordinal ≥ 0: a negative indicator makes it negative; ordinal < 0: scaled, never helped.
    let score = ordinal >= 0 ? ordinal * ema : signedScale(ordinal, Math.max(0, ema));
    if (e.missStreak > 0) score = signedScale(score, s.missFactors[Math.min(e.missStreak, s.missFactors.length) - 1]);
    const negatives = e.recent.filter((r) => r.negative).length;
    if (negatives > e.recent.length / 2) score = signedScale(score, s.negativeFactor);
    score = signedScale(score, e.copyFactor);
    return score;
  }

  /** Clears per-window factors before the next window's copy checks. */
  beginWindow(): void {
    for (const e of this.#peers.values()) e.copyFactor = 1;
  }

  #reset(e: PeerEntry): void {
    e.rating = newRating();
    e.indicatorEma = 0;
    e.evaluations = 0;
    e.indicated = 0;
    e.negativeStreak = 0;
    e.assignZs = [];
    e.assignTests = 0;
    e.assignSum = 0;
    e.admitted = false;
  }

  /** JSON-safe state (peers in insertion order, evidence in order). */
  toJSON(): { version: 1; peers: [string, PeerEntry][]; evidence: Equivocation[] } {
    return { version: 1, peers: [...this.#peers.entries()], evidence: [...this.#evidence] };
  }

  /** Restores `toJSON()` output; throws `TypeError` naming what is wrong in a damaged file. */
  static fromJSON(spec: GauntletSpec, json: unknown): PeerBook {
    const j = json as ReturnType<PeerBook["toJSON"]>;
    if (j === null || typeof j !== "object" || j.version !== 1 || !Array.isArray(j.peers) || !Array.isArray(j.evidence)) {
      throw new TypeError("peer book: not a version 1 book");
    }
    const peers = new Map<string, PeerEntry>();
    for (const p of j.peers) {
      const [address, e] = Array.isArray(p) ? p : [];
      const num = (x: unknown) => typeof x === "number" && Number.isFinite(x);
      if (
        typeof address !== "string" || e === null || typeof e !== "object" || !num(e.rating?.mu) ||
        !num(e.rating?.sigma) || !num(e.indicatorEma) || !num(e.evaluations) || !num(e.lastEvaluated) ||
        !Array.isArray(e.recent) || !num(e.missStreak) || !num(e.negativeStreak) || !num(e.copyFactor) ||
        !num(e.bannedThrough) || typeof e.reason !== "string" ||
        (e.copyOf !== null && typeof e.copyOf !== "string")
      ) {
        throw new TypeError(`peer book: entry ${typeof address === "string" ? address : "?"} is damaged`);
      }
      // Books written before the assignment test have no z history (nor, before the cap, a
      // last pick): it starts afresh.
      const zs = e.assignZs ?? [];
      if (!Array.isArray(zs) || !zs.every(num) || !num(e.assignTests ?? 0)) {
        throw new TypeError(`peer book: entry ${address} is damaged`);
      }
      // Before the sequential test a book kept no Σz: the sequential test goes on from the
      // kept z values alone, n = their count (Σ of the last `assignWindows` z against the bound
      // of every test since the reset would hold a long-lived honest key to ~0.75·n). n stays
      // at or above `assignWarmup` where it was, as `assignWindows` ≥ `assignWarmup` by default,
      // and admission is judged on them at once.
      const old = e.assignSum === undefined;
      const sum = old ? zs.reduce((a, b) => a + b, 0) : e.assignSum;
      const tests = old ? zs.length : e.assignTests;
      // Before the indicator count the warm-up counted evaluations: they stand in.
      const indicated = e.indicated ?? e.evaluations;
      if (
        !num(e.lastPicked ?? -1) || !num(sum) || !num(tests ?? 0) || !num(indicated) ||
        typeof (e.admitted ?? false) !== "boolean"
      ) {
        throw new TypeError(`peer book: entry ${address} is damaged`);
      }
      peers.set(address, {
        ...e,
        indicated,
        assignZs: zs,
        assignTests: tests ?? 0,
        lastPicked: e.lastPicked ?? -1,
        assignSum: sum,
        admitted: e.admitted ?? (spec.assignSprtMu > 0 && tests > 0 && sum >= admitBound(spec, tests)),
      });
    }
    return new PeerBook(spec, peers, j.evidence);
  }
}
