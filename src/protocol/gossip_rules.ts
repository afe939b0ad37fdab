/**
 * What a role accepts on each gossip topic: the signed message must verify for this run
 * (signature, run id, freshness, size), be of the topic's kind, and, for update
 * announcements, be for a window around the current one. Everything else is rejected, which
 * lowers the sender's gossipsub score.
 *
 * @module
 */

import type { GossipValidator, Verdict } from "../net/gossip.ts";
import type { RunTopics } from "../net/protocols.ts";
import { type Message, type MessageKind, verifyMessage } from "../codec/messages.ts";
import { type RunContext, verifyOptions } from "./run_context.ts";

/** Counts of refused gossip messages by reason. */
export type RejectCounts = Record<string, number>;

/** The kind each topic carries. */
export function topicKinds(topics: RunTopics): Map<string, MessageKind> {
  return new Map([
    [topics.peers, "peer-announce"],
    [topics.updates, "update-announce"],
    [topics.rounds, "round-record"],
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
  const kind = topicKinds(topics).get(topic);
  if (kind === undefined) return `unknown-topic: ${topic}`;
  const w = ctx.clock.windowAt(now);
  const r = verifyMessage(data, {
    ...verifyOptions(ctx, now),
    expectedWindow: kind === "update-announce"
      ? [w - 1, w, w + 1].filter((x) => x >= 0)
      : undefined,
  });
  if (!r.ok) return `${r.reason}: ${r.detail}`;
  if (r.message.body.kind !== kind) return `wrong-topic: a ${r.message.body.kind} on ${topic}`;
  return r.message;
}

/**
 * A gossip validator applying {@linkcode checkGossip}: counts rejections by reason in
 * `counts` and reports each (`why` is "<reason>: <detail>").
 */
export function gossipRules(
  ctx: RunContext,
  topics: () => RunTopics,
  counts: RejectCounts,
  onReject: (topic: string, from: string, why: string) => void = () => {},
  now: () => number = Date.now,
): GossipValidator {
  return (topic, data, from): Verdict => {
    const r = checkGossip(ctx, topics(), topic, data, now());
    if (typeof r !== "string") return "accept";
    const reason = r.slice(0, r.indexOf(":"));
    counts[reason] = (counts[reason] ?? 0) + 1;
    onReject(topic, from, r);
    return "reject";
  };
}
