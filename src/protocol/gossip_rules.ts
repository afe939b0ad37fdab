/**
 * What a role accepts on each gossip topic: the signed message must verify for this run
 * (signature, run id, freshness, size), be of the topic's kind, and, for update
 * announcements, be for a window around the current one. Everything else is rejected, which
 * lowers the sender's gossipsub score. Then each verified sender identity is held to a rate
 * limit ({@linkcode RateLimiter}): one key flooding valid messages would otherwise cost every
 * node CPU per message.
 *
 * @module
 */

import type { GossipValidator, Verdict } from "../net/gossip.ts";
import type { RunTopics } from "../net/protocols.ts";
import { type Message, type MessageKind, verifyMessage } from "../codec/messages.ts";
import { type RunContext, verifyOptions } from "./run_context.ts";
import { RateLimiter } from "./rate_limit.ts";
import { quorumOf } from "./genesis.ts";
import { checkDelegation, decodeDelegation, type WalletBook } from "../identity/delegation.ts";
import { addressFromPublicKey } from "../identity/address.ts";

/** Counts of refused gossip messages by reason. */
export type RejectCounts = Record<string, number>;

/**
 * The kinds each topic carries. Votes (`record-vote`) travel with the records they vote for,
 * and only in a run with a genesis `quorum` ({@linkcode checkGossip} refuses them otherwise).
 */
export function topicKinds(topics: RunTopics): Map<string, readonly MessageKind[]> {
  return new Map<string, readonly MessageKind[]>([
    [topics.peers, ["peer-announce"]],
    [topics.updates, ["update-announce"]],
    [topics.rounds, ["round-record", "record-vote"]],
  ]);
}

/**
 * Checks one gossip message of `topic` at time `now`: the verified message, or why not.
 * Update announcements must be for the window open at `now` or its neighbours (a peer
 * announces right as its window closes).
 */
export function checkGossip(
  ctx: RunContext,
  topics: RunTopics,
  topic: string,
  data: Uint8Array,
  now: number,
): Message | string {
  const kinds = topicKinds(topics).get(topic);
  if (kinds === undefined) return `unknown-topic: ${topic}`;
  const w = ctx.clock.windowAt(now);
  const r = verifyMessage(data, {
    ...verifyOptions(ctx, now),
    expectedWindow: kinds[0] === "update-announce"
      ? [w - 1, w, w + 1].filter((x) => x >= 0)
      : undefined,
  });
  if (!r.ok) return `${r.reason}: ${r.detail}`;
  const kind = r.message.body.kind;
  if (!kinds.includes(kind)) return `wrong-topic: a ${kind} on ${topic}`;
  if (kind === "record-vote" && quorumOf(ctx.genesis) === null) {
    return `wrong-topic: a record-vote in a run without a quorum`;
  }
  if (r.message.delegation !== undefined) {
    const d = checkDelegation(r.message.delegation, ctx.runId, r.message.senderKey, now);
    if (!d.ok) return `${d.reason}: ${d.detail}`;
  }
  return r.message;
}

/**
 * A gossip validator applying {@linkcode checkGossip}, then `limiter` per verified sender
 * (the sr25519 address signed into the message, not the relaying libp2p peer): counts
 * rejections by reason in `counts` and reports each (`why` is "<reason>: <detail>") — except
 * that a sender over its rate is reported once per the limiter's period, with the count of
 * messages dropped since, so a flood cannot flood the log. An over-rate message is ignored,
 * not rejected: it is valid, and the honest nodes relaying it must not lose gossipsub score
 * for the offender's volume. A delegated sender's wallet is noted in `wallets` (credit goes to it),
 * and the rate is the wallet's: session keys cost nothing to make, so one wallet's many keys
 * share one budget.
 */
export function gossipRules(
  ctx: RunContext,
  topics: () => RunTopics,
  counts: RejectCounts,
  onReject: (topic: string, from: string, why: string) => void = () => {},
  now: () => number = Date.now,
  limiter: RateLimiter = new RateLimiter(),
  wallets?: WalletBook,
): GossipValidator {
  return (topic, data, from): Verdict => {
    const t = now();
    const r = checkGossip(ctx, topics(), topic, data, t);
    if (typeof r !== "string") {
      if (r.delegation !== undefined) wallets?.note(r.sender, r.delegation);
      const who = rateKey(r);
      const v = limiter.take(who, t);
      if (v.ok) return "accept";
      counts["rate-limited"] = (counts["rate-limited"] ?? 0) + 1;
      if (v.report) {
        onReject(
          topic,
          from,
          `rate-limited: ${who} over its rate, ${v.dropped} message(s) dropped since the last report`,
        );
      }
      return "ignore";
    }
    const reason = r.slice(0, r.indexOf(":"));
    counts[reason] = (counts[reason] ?? 0) + 1;
    onReject(topic, from, r);
    return "reject";
  };
}

/** Whom a verified message's rate counts against: the delegating wallet, else the sender. */
function rateKey(m: Message): string {
  const d = m.delegation === undefined ? null : decodeDelegation(m.delegation);
  return d === null ? m.sender : addressFromPublicKey(d.wallet);
}
