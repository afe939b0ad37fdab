/**
 * The credit split of a round (GAUNTLET.md, "Selection and credit"): the best `creditTop`
 * peers share `creditTopShare` on a linear ramp on which the best earns twice the last, the
 * next `creditNext` share `creditNextShare`, each half the one before. Shares are normalised
 * over the tiers present, so a small run hands out all of the credit. Plain arithmetic in a
 * fixed order: any node recomputes the same numbers from a signed record's ranking.
 *
 * @module
 */

import type { GauntletSpec } from "./gauntlet_spec.ts";
import type { RoundRecord } from "../codec/messages.ts";

/** One peer's share of a round's credit. */
export interface Credit {
  address: string;
  /** In [0, 1]; the shares of a round sum to 1 (or the table is empty). */
  share: number;
}

/** The parts of a gauntlet spec that split credit. */
export type CreditSpec = Pick<GauntletSpec, "creditTop" | "creditTopShare" | "creditNext" | "creditNextShare">;

/**
 * Credit for `ranked` (best first, every address once); peers past both tiers get none. With
 * `ownerOf`, a share goes to the wallet a session key speaks for (src/identity/delegation.ts),
 * one row per wallet in the order of its best key, summed over its keys.
 */
export function creditTable(
  ranked: readonly string[],
  spec: CreditSpec,
  ownerOf?: (address: string) => string,
): Credit[] {
  if (new Set(ranked).size !== ranked.length) throw new RangeError("creditTable: an address is ranked twice");
  const top = ranked.slice(0, spec.creditTop);
  const next = ranked.slice(spec.creditTop, spec.creditTop + spec.creditNext);
  // Ramp from 2 (best) down to 1 (last of the tier).
  const ramp = top.map((_, i) => top.length === 1 ? 1 : 1 + (top.length - 1 - i) / (top.length - 1));
  const halves = next.map((_, j) => 2 ** -j);
  const tiers = [
    { peers: top, weights: ramp, share: spec.creditTopShare },
    { peers: next, weights: halves, share: spec.creditNextShare },
  ].filter((t) => t.peers.length > 0);
  const total = tiers.reduce((s, t) => s + t.share, 0);
  const out: Credit[] = [];
  for (const t of tiers) {
    const sum = t.weights.reduce((s, w) => s + w, 0);
    t.peers.forEach((address, i) => out.push({ address, share: (t.share / total) * (t.weights[i] / sum) }));
  }
  if (ownerOf === undefined) return out;
  const byOwner = new Map<string, Credit>();
  for (const c of out) {
    const owner = ownerOf(c.address);
    const row = byOwner.get(owner);
    if (row) row.share += c.share;
    else byOwner.set(owner, { address: owner, share: c.share });
  }
  return [...byOwner.values()];
}

/**
 * A round's credit recomputed from its signed record alone, one row per wallet: the
 * contributors ranked by the final score the record gives them (best first; a tie at float32
 * resolution, or a contributor the record did not score, goes in the record's key order: the
 * validator's arrival order is not signed, so only such ties can differ from its own table),
 * each share going to the wallet the record names for the key, else to the key.
 */
export function recordCredit(record: RoundRecord, spec: CreditSpec): Credit[] {
  const scored = new Map((record.scored ?? []).map((s) => [s.address, s]));
  const score = (a: string) => scored.get(a)?.score ?? -Infinity;
  // Array.prototype.sort is stable: equal scores keep the record's (ascending key) order.
  const ranked = record.contributors.map((c) => c.address).sort((a, b) =>
    score(a) === score(b) ? 0 : score(b) > score(a) ? 1 : -1
  );
  return creditTable(ranked, spec, (a) => scored.get(a)?.wallet ?? a);
}

/**
 * The credit table of a run so far, from the records a node holds: each record hands out one
 * unit ({@linkcode recordCredit}), a wallet's share is its units over the records that handed
 * any out, rows by share (largest first, then address). Any two nodes holding the same records
 * (passed in window order, as `RecordLog.after` gives them)
 * get the same table.
 */
export function runCredit(records: Iterable<RoundRecord>, spec: CreditSpec): Credit[] {
  const units = new Map<string, number>();
  let rounds = 0;
  for (const r of records) {
    const t = recordCredit(r, spec);
    if (t.length === 0) continue;
    rounds++;
    for (const c of t) units.set(c.address, (units.get(c.address) ?? 0) + c.share);
  }
  return [...units].map(([address, u]) => ({ address, share: u / rounds }))
    .sort((a, b) => b.share - a.share || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}
