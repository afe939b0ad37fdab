/**
 * The validator role: it fetches and checks every announced update (signature, window, model
 * hash, decoding against the run's shapes, tiles and k), and at the window's deadline scores
 * every update that arrived in time (the gauntlet, GAUNTLET.md, through its {@linkcode Scorer}):
 * only updates that pass their loss check, from peers not banned or left out, enter the
 * aggregate, best rated first, up to the genesis cap. It computes θ_{w+1} and publishes a
 * signed round record that carries every judged peer's scores and verdict. A payload that has
 * not arrived by the deadline counts as missing: no record waits on one peer. Two different
 * signed updates from one key for one window are equivocation: the key is banned and the
 * evidence logged. Every `checkpointInterval` windows it saves a safetensors checkpoint and
 * serves it by hash; it keeps the payloads since the newest checkpoint so joiners can replay.
 *
 * With a genesis `quorum` (docs/VALIDATORS.md) it is one of several: the window's proposer
 * (`validators[w mod n]`, then each next one after `fallbackMs` more) scores and proposes; every
 * validator recomputes a proposal's aggregate from the same payloads and votes for it only if
 * its model hash is what it computes, at most once per window (the vote is kept in `votes/`
 * before it is sent, so a restarted validator cannot vote twice); a record counts, here as on
 * every peer, once a quorum of validators voted for it.
 *
 * @module
 */

import { hashBytes } from "../net/payload_store.ts";
import { hex } from "../util/hex.ts";
import { encodeCheckpoint } from "../codec/checkpoint.ts";
import {
  MAX_SCORED,
  type RoundRecord,
  type ScoredPeer,
  type VerdictCode,
} from "../codec/messages.ts";
import type { Submission } from "../gauntlet/gauntlet.ts";
import type { Batch, LossProbe } from "../gauntlet/loss_check.ts";
import type { Scorer } from "./scorer.ts";
import type { ModelChain } from "../protocol/model_chain.ts";
import type { RoleNode } from "./role_node.ts";
import { type SignedRecord, verifyProposal, verifyRecord } from "../protocol/record_log.ts";
import { ChainError, type NextModel } from "../protocol/model_chain.ts";
import { decodeMessage, DEFAULT_MAX_SKEW_MS, type Message } from "../codec/messages.ts";
import { quorumOf, type QuorumSpec } from "../protocol/genesis.ts";
import {
  certificateParts,
  firstLiveWindow,
  giveUpAt,
  lastVoteAt,
  proposeAt,
  recordHash,
  relayMs,
  repeatMs,
  TALLY_WINDOWS,
} from "../protocol/quorum.ts";
import { VoteBook, type VoteFrom } from "../protocol/vote_book.ts";
import { type EventSink, StatusReporter, Waker } from "./role_events.ts";
import type { RoleState } from "./role_state.ts";
import type { StateStore } from "../protocol/state_store.ts";

/** What a validator is made of. */
export interface ValidatorComponents {
  /** Network side (node, signer, records). */
  net: RoleNode;
  /** The model head. */
  chain: ModelChain;
  /** Where θ is saved after every round. */
  state: RoleState;
  /** Where checkpoints (`checkpoints/`) and the payloads kept for joiners (`payloads/`) go. */
  store: StateStore;
  /** Scores every update of a window and keeps the peer book. */
  scorer: Scorer;
  /** Status and events. */
  emit: EventSink;
  /** Held-out batches whose loss under θ_w goes into record w (absent: none measured). */
  heldOut?: { probe: LossProbe; batches: readonly Batch[] };
}

interface Candidate {
  address: string;
  payloadHash: string;
  from: string;
  arrival: number;
  /** Settles with the checked bytes and their tensors (decoded once), or why it was refused. */
  checked: Promise<{ bytes: Uint8Array; tensors: Submission["tensors"] } | { problem: string }>;
  /** Set when the key announced a second, different update for the window. */
  equivocated: boolean;
}

/**
 * With a quorum: the longest a validator re-publishes a proposal it voted for. Older signed
 * bytes would fail the gossip rules' freshness check (and cost the nodes relaying them score).
 */
const REPUBLISH_MAX_AGE_MS = DEFAULT_MAX_SKEW_MS / 2;

/** A validator. `start()`, then `stop()`. */
export class Validator {
  readonly #c: ValidatorComponents;
  readonly #waker = new Waker();
  readonly #candidates = new Map<number, Map<string, Candidate>>();
  /** Keys and windows whose late announcement was logged already. */
  readonly #lateLogged = new Set<string>();
  #running: Promise<void> | null = null;
  #stopped = false;
  readonly #report: StatusReporter;
  /** Payload hashes the records since the newest checkpoint select (kept for joiners). */
  #kept: { window: number; hash: string }[] = [];
  readonly #checkpoints: StateStore;
  readonly #payloads: StateStore;
  /** With a genesis `quorum`: the rules, and this validator's votes by window (`votes/`). */
  readonly #quorum: QuorumSpec | null;
  readonly #votes: VoteBook;
  /** Windows this validator proposed in (or tried to). */
  readonly #proposed = new Set<number>();
  /** Next heads of proposals it checked (own and others'), by record hash, with their base. */
  readonly #checked = new Map<string, { window: number; from: string; next: NextModel }>();
  /**
   * Proposals considered already (record hash hex). One refused for a reason that may pass (a
   * failed payload fetch, a turn not come by this clock) is forgotten, so a later copy is checked.
   */
  readonly #considered = new Set<string>();
  /** Proposals from another head than this one's (it is behind): considered again as it moves. */
  readonly #later = new Map<string, { m: Message; bytes: Uint8Array }>();
  /**
   * Proposals not voted for because an earlier vote held this validator back: considered
   * again, before it proposes, as soon as it is freed (else two validators each freed while
   * the other was still held proposed their own in turn, each refused by the other, window
   * after window: seen in the swarm test).
   */
  readonly #heldBack = new Map<string, { m: Message; bytes: Uint8Array }>();
  /**
   * Whether a kept vote held this validator back when the round loop last looked: kept across
   * windows, so a hold that ends between two windows' loops still has the proposals it held
   * back reconsidered.
   */
  #wasHeld = false;
  #askedAt = -Infinity;
  /** By window: the signed proposal this validator voted for, with its timestamp (re-announced). */
  readonly #ballots = new Map<number, { bytes: Uint8Array; timestamp: number }>();
  /** By window: when this validator last sent its vote, and the proposal with it. */
  readonly #sentAt = new Map<number, { vote: number; proposal: number }>();
  /**
   * When this validator was first connected to anyone: it proposes only after listening for
   * three re-announcements since, so one that (re)joined after a window's votes were sent
   * votes for the proposal being re-announced rather than splitting the window with its own.
   */
  #connectedAt: number | null = null;
  /** When this validator started (a window before is not seen whole: its votes may be missed). */
  readonly #startedAt = Date.now();
  /** The certificate pull over sync in flight, if any (stop waits for it: it writes records). */
  #pull: Promise<void> | null = null;
  /** The last window this validator's scorer judged (with a quorum, the windows it proposes). */
  #judgedWindow = -1;
  /**
   * Windows with another's proposal being checked here (payloads on their way), and since
   * when: this validator does not propose its own meanwhile, or a slow fetch would split the
   * window — for two fallbacks at most (a proposal naming payloads nobody serves must not hold
   * the window up).
   */
  readonly #checking = new Map<number, { n: number; since: number }>();
  /**
   * Set when something shows this validator is behind the others (a record that counts, or a
   * proposal, from another head than its own; and once at start): it catches up before going
   * on. A window without a record is not such a sign.
   */
  #behind = true;

  constructor(c: ValidatorComponents) {
    this.#c = c;
    this.#checkpoints = c.store.sub("checkpoints");
    this.#payloads = c.store.sub("payloads");
    this.#votes = new VoteBook(c.store.sub("votes"));
    this.#quorum = quorumOf(c.net.ctx.genesis);
    const tally = c.net.records.tally;
    if (tally !== null) {
      tally.onDoubleVote = (w, voter) =>
        this.#report.log(
          `${short(voter)} voted for two records of window ${w}; its votes there do not count`,
        );
    }
    // Outer delay 1: the base of a window's updates is named by the previous record.
    c.chain.recordBase = (w) => c.net.records.get(w)?.record.modelHash;
    this.#report = new StatusReporter(
      "validator",
      c.net.signer.address,
      {
        applied: c.chain.applied,
        modelHash: c.chain.hashHex,
        of: 0,
      },
      c.net.traffic,
      c.emit,
    );
  }

  /** Restores served checkpoints and payloads, subscribes, and starts the round loop. */
  async start(): Promise<void> {
    const { net } = this.#c;
    await this.#restore();
    // A crash between keeping a record and saving the model leaves the record ahead of the
    // state: replay it from the kept payloads.
    await net.applyKnown(this.#c.chain, () => Promise.resolve());
    net.start();
    net.subscribe(net.node.topics.updates, (m, _bytes, from) => {
      if (m.body.kind === "update-announce") this.#onAnnounce(m.sender, m.body, from);
    });
    // Subscribed to relay records (its own and other validators') and to refuse forged ones;
    // with a quorum, to check and vote on proposals and to count votes.
    net.subscribe(net.node.topics.rounds, (m, bytes) => {
      if (this.#quorum === null) return;
      if (m.body.kind === "round-record") this.#considerLater(m, bytes);
      this.#tally(m, bytes);
    });
    this.#running = this.#run().catch((e) => {
      this.#report.log(`validator loop stopped: ${e instanceof Error ? e.stack ?? e.message : e}`);
    });
  }

  /** Stops after the current step. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#waker.wake();
    await this.#running;
    await this.#pull;
    await this.#c.scorer.stop();
    this.#c.net.stop();
  }

  #onAnnounce(
    address: string,
    a: { window: number; modelHash: Uint8Array; payloadHash: Uint8Array; size: number },
    from: string,
  ): void {
    const { net, chain } = this.#c;
    const now = Date.now();
    const deadline = net.ctx.clock.windowEnd(a.window) + net.ctx.graceMs;
    const payloadHash = hex(a.payloadHash);
    const seen = this.#candidates.get(a.window)?.get(address);
    if (seen !== undefined) {
      // Repeats of an announcement: the first counts. A different one is evidence, also after
      // the deadline or the record (relayed late through the mesh): a window's candidates are
      // kept through the next window.
      if (seen.payloadHash !== payloadHash && !seen.equivocated) {
        seen.equivocated = true;
        void this.#c.scorer.equivocated({
          address,
          window: a.window,
          payloads: [seen.payloadHash, payloadHash],
        }).catch((e) => this.#report.log(`saving equivocation evidence failed: ${e}`));
      }
      return;
    }
    if (now > deadline || a.window <= chain.applied) {
      // One line per key and window: honest peers repeat their announcement until the grace
      // ends, and a flood must not turn into a flood of lines.
      const key = `${address} ${a.window}`;
      if (now > deadline && a.window > chain.applied - 2 && !this.#lateLogged.has(key)) {
        this.#lateLogged.add(key);
        if (this.#lateLogged.size > 10_000) this.#lateLogged.clear();
        this.#report.log(
          `update of ${short(address)} for window ${a.window} came ${
            now - deadline
          } ms after the deadline; ignored`,
        );
      }
      return;
    }
    let byAddress = this.#candidates.get(a.window);
    if (byAddress === undefined) this.#candidates.set(a.window, byAddress = new Map());
    if (this.#c.scorer.banned(address, a.window)) return;
    const base = chain.baseHash(a.window);
    const checked = base === undefined || hex(a.modelHash) !== hex(base)
      // Not trained from θ_w: scored as refused (the signed model hash is an exact sync check).
      ? Promise.resolve({ problem: "trained from another model" })
      : (async () => {
        try {
          const bytes = await net.fetchPayload(payloadHash, [from]);
          if (bytes.length !== a.size) {
            throw new Error(`${bytes.length} bytes, announced ${a.size}`);
          }
          return { bytes, tensors: chain.checkUpdate(bytes, a.window).tensors };
        } catch (e) {
          this.#report.log(
            `update of ${short(address)} for window ${a.window} refused: ${(e as Error).message}`,
          );
          net.node.store.delete(payloadHash);
          return { problem: (e as Error).message };
        }
      })();
    byAddress.set(address, {
      address,
      payloadHash,
      from,
      arrival: now,
      checked,
      equivocated: false,
    });
  }

  async #run(): Promise<void> {
    const { net, chain } = this.#c;
    const clock = net.ctx.clock;
    // With a quorum a (re)started or late validator takes part in every window not given up
    // yet (`firstLiveWindow`), not only the open one: a record may still be in the making, and
    // the others may be waiting on this vote.
    const first = (now: number) =>
      this.#quorum === null ? clock.windowAt(now) : firstLiveWindow(net.ctx, now);
    let w = Math.max(chain.applied + 1, first(Date.now()));
    while (!this.#stopped) {
      const now = Date.now();
      this.#report.set({ window: clock.windowAt(now), connections: net.node.peers().length });
      this.#noteConnected(now);
      if (w < 0) {
        this.#report.set({ phase: "waiting for genesis" });
        await this.#waker.sleep(Math.min(clock.windowStart(0) - now, 1000));
        w = Math.max(w, clock.windowAt(Date.now()));
        continue;
      }
      const deadline = clock.windowEnd(w) + net.ctx.graceMs;
      if (now < deadline) {
        this.#report.set({
          phase: `collecting window ${w} (${this.#candidates.get(w)?.size ?? 0} updates)`,
        });
        // A record that reached its quorum after this validator gave up on its window.
        if (this.#quorum !== null) await this.#applyCertified();
        await this.#heldOutLoss(); // while the window is open, off the record's path
        await this.#waker.sleep(Math.min(deadline - now, 500));
        continue;
      }
      try {
        if (this.#quorum === null) await this.#finish(w);
        else {
          await this.#agree(w, this.#quorum);
          if (this.#judgedWindow !== w) await this.#rememberForReplay(w);
        }
      } catch (e) {
        // Never leave the run without a validator over one bad round: say why, go on.
        this.#report.log(`round ${w} failed: ${e instanceof Error ? e.stack ?? e.message : e}`);
      }
      // A validator that fell behind (suspended, restarted) skips to the window open now; with
      // a quorum to the first window not given up (a slow window does not cost the next one).
      w = Math.max(w + 1, first(Date.now()));
      // A window's candidates are kept through the next one: a late second announcement is evidence.
      for (const k of this.#candidates.keys()) if (k < w - 1) this.#candidates.delete(k);
      this.#forgetBefore(w);
    }
  }

  async #finish(w: number): Promise<void> {
    const { net, chain } = this.#c;
    // Where the record's time goes (ms since the deadline at each step), for the log line.
    const deadline = net.ctx.clock.windowEnd(w) + net.ctx.graceMs;
    const marks: string[] = [`start ${Date.now() - deadline}`];
    const mark = (what: string) => marks.push(`${what} ${Date.now() - deadline}`);
    const judged = await this.#judge(w, mark);
    if (judged === null) return;
    const { record, next, ok } = judged;
    // Served and kept for joiners, all at once: one after the other, each await waited for the
    // event loop's turn on a loaded machine (~0.5 s for three payloads in the attack swarm).
    await Promise.all(ok.map(async (c) => {
      await net.node.store.put(c.payloadHash, c.bytes, { pin: true });
      await this.#payloads.put(c.payloadHash, c.bytes);
    }));
    for (const c of ok) this.#kept.push({ window: w, hash: c.payloadHash });
    mark("kept");
    // Sign and keep the record before moving the head: a failure before this point leaves
    // the round undone (no record, same model), never a head without its record.
    const bytes = await net.sign(record);
    const signed = verifyRecord(net.ctx, bytes);
    if (typeof signed === "string") throw new Error(`own round record does not verify: ${signed}`);
    await net.records.add(signed);
    mark("signed");
    chain.commit(w, next);
    // Out before θ is saved (0.2–0.6 s under load): the record and its payloads are kept, so a
    // crash before the save is replayed at the next start (`applyKnown`).
    await net.publishSigned(net.node.topics.rounds, bytes);
    const out = Date.now() - deadline;
    net.traffic.up += bytes.length;
    this.#emitApplied(signed);
    await this.#c.state.save(
      net.ctx,
      { applied: w, lastTrained: -1, params: chain.params },
      chain.hash,
    );
    mark("saved");
    this.#report.log(`window ${w} record out ${out} ms after the deadline (${marks.join(", ")})`);
    await this.#applied(signed);
    // Late subscribers miss a single publish; once more after the mesh has had a heartbeat.
    this.#republish(bytes);
  }

  /**
   * Scores window `w`'s updates and computes the record it makes: the record's body, the next
   * head and the selected payloads; null when the window's base model is not held.
   */
  async #judge(
    w: number,
    mark: (step: string) => void = () => {},
  ): Promise<
    | {
      record: RoundRecord;
      next: NextModel;
      ok: { address: string; payloadHash: string; bytes: Uint8Array }[];
    }
    | null
  > {
    const { chain } = this.#c;
    this.#report.set({ phase: `selecting window ${w}` });
    const cands = [...(this.#candidates.get(w)?.values() ?? [])]
      .filter((c) => !c.equivocated)
      .sort((a, b) => a.arrival - b.arrival || (a.address < b.address ? -1 : 1));
    // What has not arrived by now is missing: a stalling author does not hold up the round.
    const STALLED = { problem: "" };
    const settled = await Promise.all(
      cands.map((c) => Promise.race([c.checked, Promise.resolve(STALLED)])),
    );
    const bytesOf = new Map<string, Uint8Array>();
    const submissions: Submission[] = [];
    cands.forEach((c, i) => {
      const s = settled[i];
      if (s === STALLED) {
        this.#report.log(
          `update of ${short(c.address)} for window ${w} did not arrive by the deadline`,
        );
      } else if ("bytes" in s) {
        bytesOf.set(c.address, s.bytes);
        submissions.push({ address: c.address, arrival: c.arrival, tensors: s.tensors });
      } else submissions.push({ address: c.address, arrival: c.arrival, problem: s.problem });
    });
    // Outer delay 1: window w's updates were trained from the head before the last record.
    const base = chain.baseParams(w);
    if (base === undefined) {
      this.#report.log(`window ${w}: its base model is not held (restarted?); no record`);
      return null;
    }
    this.#report.set({ phase: `scoring window ${w} (${submissions.length} updates)` });
    const t0 = performance.now();
    mark("settled");
    const j = await this.#c.scorer.judge(w, base, submissions);
    mark("scored");
    this.#report.log(
      `window ${w} scored: ${j.checks.size} of ${submissions.length} evaluated, ` +
        `${j.evalMs.toFixed(0)} ms each, ${(performance.now() - t0).toFixed(0)} ms in all`,
    );
    const byAddress = new Map(cands.map((c) => [c.address, c]));
    const ok = j.selected.map((address) => ({
      address,
      payloadHash: byAddress.get(address)!.payloadHash,
      bytes: bytesOf.get(address)!,
    }));
    const scored: ScoredPeer[] = submissions.slice(0, MAX_SCORED).map((s) => {
      const left = j.leftOut.get(s.address);
      const wallet = this.#c.scorer.ownerOf(s.address);
      const verdict: VerdictCode = j.selected.includes(s.address)
        ? "selected"
        : j.reserves.includes(s.address)
        ? "reserve"
        : left?.code ?? "not-evaluated";
      return {
        address: s.address,
        gradScore: j.checks.get(s.address)?.gradScore ?? NaN,
        score: j.scores.get(s.address) ?? 0,
        verdict,
        until: left?.until ?? 0,
        other: left?.other ?? null,
        // Signed into the record: credit by wallet is then recomputable from records alone.
        ...(wallet === s.address ? {} : { wallet }),
      };
    });
    for (const [address, why] of j.leftOut) {
      this.#report.log(`window ${w}: ${short(address)} left out: ${why.text}`);
    }
    const next = await chain.next(w, ok);
    mark("aggregated");
    const validLoss = await this.#heldOutLoss();
    const record: RoundRecord = {
      kind: "round-record",
      window: w,
      modelHash: chain.hash,
      nextModelHash: next.hash,
      contributors: ok.map((c) => ({ address: c.address, payloadHash: hashBytes(c.payloadHash) })),
      scored,
      ...(validLoss === undefined ? {} : { validLoss }),
    };
    return { record, next, ok };
  }

  /** Tells the role's listeners that record `signed` moved the head (as soon as it is out). */
  #emitApplied(signed: SignedRecord): void {
    const { net, chain } = this.#c;
    const selected = signed.record.contributors.map((c) => c.address);
    this.#c.emit({
      event: "applied",
      role: "validator",
      address: net.signer.address,
      window: signed.record.window,
      modelHash: chain.hashHex,
      contributors: selected.length,
      selected,
    });
  }

  /** After record `signed` moved the head and the state is saved: checkpoint, status. */
  async #applied(signed: SignedRecord): Promise<void> {
    const { net, chain } = this.#c;
    const w = signed.record.window;
    if ((w + 1) % net.ctx.genesis.checkpointInterval === 0) await this.#checkpoint(w + 1);
    this.#report.set({
      applied: w,
      modelHash: chain.hashHex.slice(0, 12),
      contributors: signed.record.contributors.length,
      bytesUp: net.traffic.up,
      validLoss: signed.record.validLoss ?? null,
    });
  }

  /** Publishes signed bytes once more after a second (late subscribers miss one publish). */
  #republish(bytes: Uint8Array): void {
    const { net } = this.#c;
    setTimeout(() => {
      if (!this.#stopped) void net.node.publish(net.node.topics.rounds, bytes).catch(() => {});
    }, 1_000);
  }

  /**
   * With a quorum: window `w` until a record of it counts (applied here), or until the last
   * proposer's turn plus one fallback and one window have passed. At its turn in the proposer
   * order (counted from now when it comes to the window after its deadline), unless it voted for another's proposal already (or has not listened long enough
   * since it connected), this validator scores and proposes. Meanwhile, so that no single lost
   * message stalls the window: it re-announces its vote and the proposal it is for, and once
   * the first fallback has passed it asks the others over sync for a certificate they may hold.
   */
  async #agree(w: number, q: QuorumSpec): Promise<void> {
    const { net, chain } = this.#c;
    const ctx = net.ctx;
    const deadline = ctx.clock.windowEnd(w) + ctx.graceMs;
    // Late here (the window before took long): the proposer order still spaces the turns, from
    // now on, so that validators late alike do not all propose at once and split the window.
    // So, too, when a vote in an earlier window held it back until now (a record came late):
    // every validator it held is freed by the same record, at about the same time.
    const at = proposeAt(ctx, w, net.signer.address)!;
    let turn = Math.max(at, Date.now() + at - deadline);
    const giveUp = giveUpAt(ctx, w);
    // The next window's work starts at its deadline (a slow or lost window w does not delay
    // it), once this validator's turn in w has come: w goes on in the background (proposals
    // are checked and voted on as they come, certificates applied in order), and leaving it
    // is safe: a vote in w holds this validator back from voting another record from the
    // same head while w may still count (`VoteBook`).
    const next = ctx.clock.windowEnd(w + 1) + ctx.graceMs;
    const every = repeatMs(q);
    let announcedAt = -Infinity, pulledAt = -Infinity;
    while (!this.#stopped) {
      await this.#applyCertified();
      if (this.#behind) await this.#catchUp();
      if (chain.applied >= w) return;
      const now = Date.now();
      if (now >= giveUp) return await this.#leave(w, q, now - deadline);
      this.#noteConnected(now);
      const held = await this.#votes.holding(this.#from()) !== null;
      if (this.#wasHeld && !held) {
        turn = Math.max(turn, now + at - deadline);
        this.#reconsiderHeldBack();
      }
      this.#wasHeld = held;
      // Alone in the genesis (n = 1) there is nobody to listen to.
      const listened = ctx.genesis.validators.length === 1 ||
        this.#connectedAt !== null && now >= this.#connectedAt + 3 * every;
      if (
        now >= turn && listened && !this.#proposed.has(w) &&
        now >= this.#checkingSince() + 2 * q.fallbackMs &&
        !(await this.#hasVoted(w)) && !held
      ) {
        this.#proposed.add(w);
        await this.#propose(w);
        continue;
      }
      if (now >= next && now >= turn) return await this.#leave(w, q, now - deadline);
      const nextAnnounce = Math.max(announcedAt, this.#sentAt.get(w)?.vote ?? -Infinity) + every;
      if (now >= nextAnnounce) {
        announcedAt = now;
        await this.#reannounce(w, relayMs(q, ctx.genesis.validators.length));
      }
      if (now >= deadline + q.fallbackMs && now - pulledAt >= 2 * every && this.#pull === null) {
        pulledAt = now;
        this.#pullCertificate(w);
      }
      this.#report.set({
        phase: now < turn ? `waiting for the proposal of window ${w}` : `collecting votes of ${w}`,
      });
      const wake = Math.min(
        now < turn ? turn : Math.min(giveUp, Math.max(next, turn)),
        Math.max(nextAnnounce, now + every),
      );
      await this.#waker.sleep(Math.max(1, Math.min(250, wake - now)));
    }
  }

  /** When the oldest check of another's proposal still going on began (any window; none: −∞). */
  #checkingSince(): number {
    const since = [...this.#checking.values()].map((c) => c.since);
    return since.length === 0 ? -Infinity : Math.min(...since);
  }

  /** Once freed: the proposals a held vote kept it from voting for, oldest window first. */
  #reconsiderHeldBack(): void {
    const held = [...this.#heldBack.values()].sort((a, b) =>
      a.m.body.kind === "round-record" && b.m.body.kind === "round-record"
        ? a.m.body.window - b.m.body.window
        : 0
    );
    this.#heldBack.clear();
    for (const p of held) this.#considerLater(p.m, p.bytes);
  }

  /** Leaves window `w` without a record here (`late` ms after its deadline), with a line. */
  async #leave(w: number, q: QuorumSpec, late: number): Promise<void> {
    const held = await this.#votes.holding(this.#from());
    this.#report.log(
      `window ${w}: no record reached a quorum of ${q.votes} votes ${late} ms after the ` +
        `deadline; going on` +
        (held === null ? "" : `, bound by its vote in window ${held.window}` +
          ` (no other record from this head gets its vote while that one may count)`),
    );
  }

  /**
   * Forgets the quorum bookkeeping of windows before `w`, which this validator has left: also
   * when no record applied (quorum lost), else each window kept a θ copy in `#checked`.
   */
  #forgetBefore(w: number): void {
    for (const [id, c] of this.#checked) if (c.window < w) this.#checked.delete(id);
    for (const p of this.#proposed) if (p < w) this.#proposed.delete(p);
    // A ballot of a window left may still be re-announced (the vote holding this validator
    // back, {@linkcode #reannounce}); those past the head go in #keep, the far ones here.
    for (const b of this.#ballots.keys()) if (b < w - TALLY_WINDOWS) this.#ballots.delete(b);
    for (const b of this.#sentAt.keys()) if (b < w - TALLY_WINDOWS) this.#sentAt.delete(b);
  }

  /**
   * Where this validator votes from now: its head, and the windows whose votes seen show they
   * can never count (`QuorumTally.cannotCount`), so a vote there holds nothing back.
   */
  #from(): VoteFrom {
    const { chain, net } = this.#c;
    const tally = net.records.tally;
    const deadline = (v: number) => net.ctx.clock.windowEnd(v) + net.ctx.graceMs;
    return {
      head: chain.hash,
      applied: chain.applied,
      released: (v) => tally?.cannotCount(v, this.#startedAt <= deadline(v)) ?? false,
    };
  }

  /** Notes when this validator was first connected to anyone (it listens before proposing). */
  #noteConnected(now: number): void {
    if (this.#connectedAt === null && this.#c.net.node.peers().length > 0) this.#connectedAt = now;
  }

  /**
   * While window `w` has no certificate here and this validator voted in it: its vote once
   * more, signed afresh (a new timestamp and message id; the same record, so never a second
   * vote), and every `relay` ms ({@linkcode relayMs}) the proposal it is for while that is fresh
   * enough for gossip (every voter relays it: its proposer may be gone; the gossip rate limit
   * counts them all against the proposer). Whoever missed them — started late, partitioned,
   * restarted — still gets them before the window is given up.
   */
  async #reannounce(open: number, relay: number): Promise<void> {
    const { net, chain } = this.#c;
    // Every vote of a window after the head until its last vote time: the open window's, the
    // one that holds this validator back from its head (kept in `votes/`, also after a
    // restart), and those of windows it left that another validator may still be missing —
    // one released here may still hold back one that missed a vote of it (re-announcing only
    // the holding vote left such a validator held until the window settled, and the two then
    // held each other off window after window: seen in the swarm test).
    const from = this.#from();
    const held = (await this.#votes.holding(from))?.window;
    // Also after their last vote time, while the head has not moved: the vote holding this
    // validator back and the two oldest from the head (at most three a re-announcement).
    // Voters of a split window restarted after it cannot tell it cannot count (`sawWindow`
    // false) until they see each other's votes again, and stayed held from that head for good;
    // the one of them freed first must go on re-announcing its vote of that window for them.
    const oldest = (await this.#votes.keptFrom(from)).slice(0, 2).map((v) => v.window);
    if (held !== undefined) oldest.push(held);
    const windows = new Set([open, ...oldest, ...this.#sentAt.keys()]);
    for (const w of [...windows].sort((a, b) => a - b)) {
      const late = Date.now() >= lastVoteAt(net.ctx, w);
      if (w <= chain.applied || late && !oldest.includes(w)) continue;
      const hash = await this.#votes.voted(w);
      if (hash === null) continue;
      const now = Date.now(), sent = this.#sentAt.get(w) ?? { vote: now, proposal: -Infinity };
      this.#sentAt.set(w, { ...sent, vote: now });
      const ballot = this.#ballots.get(w);
      if (
        ballot !== undefined && now - sent.proposal >= relay &&
        now - ballot.timestamp < REPUBLISH_MAX_AGE_MS
      ) {
        this.#sentAt.set(w, { vote: now, proposal: now });
        await net.publishSigned(net.node.topics.rounds, ballot.bytes);
      }
      const vote = await net.sign({ kind: "record-vote", window: w, recordHash: hash });
      // Counted here too: after a restart the tally has not seen this validator's own vote.
      const own = decodeMessage(vote);
      if (own.ok) this.#tally(own.message, vote);
      await net.publishSigned(net.node.topics.rounds, vote);
    }
  }

  /**
   * In the background: asks the other validators, then a few peers, over sync for the
   * certificate of window `w` (one may hold it while this validator missed a vote), keeps the
   * verified records it gets and wakes the round loop.
   */
  #pullCertificate(w: number): void {
    const { net, chain } = this.#c;
    this.#pull = (async () => {
      // From the head on: the certificate missed may be an earlier window's, left behind.
      const from = chain.applied + 1;
      for (const p of net.providers().filter((p) => p !== net.node.peerId).slice(0, 6)) {
        if (this.#stopped || chain.applied >= w || net.records.after(from - 1).length > 0) return;
        const res = await net.node.sync(p, from, { timeoutMs: 5_000 }).catch(() => null);
        for (const bytes of res?.records ?? []) {
          const r = verifyRecord(net.ctx, bytes);
          if (typeof r === "string" || r.record.window <= chain.applied) continue;
          await net.records.add(r);
        }
        const got = net.records.after(from - 1)[0];
        if (got !== undefined) {
          this.#report.log(
            `window ${got.record.window}: its certificate came over sync from ${p.slice(-8)}`,
          );
          this.#waker.wake();
          return;
        }
      }
    })().catch((e) => this.#report.log(`asking for the certificate of window ${w} failed: ${e}`))
      .finally(() => this.#pull = null);
  }

  /**
   * With a quorum, after window `w` when this validator did not judge it: the updates it
   * fetched and checked (as every validator does) become its scorer's replay reference, so the
   * next window it judges is still checked for replays of them.
   */
  async #rememberForReplay(w: number): Promise<void> {
    const cands = [...(this.#candidates.get(w)?.values() ?? [])].filter((c) => !c.equivocated);
    const NOT_YET = { problem: "" };
    const settled = await Promise.all(
      cands.map((c) => Promise.race([c.checked, Promise.resolve(NOT_YET)])),
    );
    const submissions: Submission[] = cands.flatMap((c, i) => {
      const s = settled[i];
      return "tensors" in s ? [{ address: c.address, arrival: c.arrival, tensors: s.tensors }] : [];
    });
    await this.#c.scorer.remember(w, submissions);
  }

  /** Scores window `w`, signs the record and, if this validator has not voted in `w`, proposes it. */
  async #propose(w: number): Promise<void> {
    const { net, chain } = this.#c;
    const judged = await this.#judge(w);
    if (judged === null) return;
    this.#judgedWindow = w;
    const bytes = await net.sign(judged.record);
    const own = verifyProposal(net.ctx, bytes);
    if (typeof own === "string") throw new Error(`own round record does not verify: ${own}`);
    for (const c of judged.ok) await net.node.store.put(c.payloadHash, c.bytes, { pin: true });
    const id = hex(recordHash(bytes));
    this.#checked.set(id, { window: w, from: chain.hashHex, next: judged.next });
    if (await this.#vote(w, bytes)) {
      this.#report.log(
        `window ${w} proposed ${
          Date.now() - net.ctx.clock.windowEnd(w) - net.ctx.graceMs
        } ms after the deadline`,
      );
    }
  }

  /** `#consider` in the background: a failure is a log line, never a crash. */
  #considerLater(m: Message, bytes: Uint8Array): void {
    this.#consider(m, bytes).catch((e) =>
      this.#report.log(`checking a proposal failed: ${e instanceof Error ? e.message : e}`)
    );
  }

  /**
   * A proposal from gossip: votes for it if it is for a window after the head, from the head,
   * from a validator whose turn has come, and its payloads aggregate to its next-model hash
   * here — and this validator has not voted in its window yet. While it checks, it does not
   * propose in that window itself (for two fallbacks at most).
   */
  async #consider(m: Message, bytes: Uint8Array): Promise<void> {
    const { chain } = this.#c;
    if (m.body.kind !== "round-record") return;
    const r = m.body, w = r.window;
    const id = hex(recordHash(bytes));
    if (w <= chain.applied || this.#considered.has(id)) return;
    this.#considered.add(id);
    if (this.#considered.size > 4096) this.#considered.clear();
    // From now until the vote is taken or refused, this validator does not propose in `w`.
    const checking = this.#checking.get(w);
    this.#checking.set(w, { n: (checking?.n ?? 0) + 1, since: checking?.since ?? Date.now() });
    try {
      await this.#check(m, r, bytes, id);
    } finally {
      const c = this.#checking.get(w)!;
      if (c.n > 1) this.#checking.set(w, { ...c, n: c.n - 1 });
      else this.#checking.delete(w);
    }
  }

  /** {@linkcode #consider} once the proposal is new here: the checks, then the vote. */
  async #check(m: Message, r: RoundRecord, bytes: Uint8Array, id: string): Promise<void> {
    const { net, chain } = this.#c;
    const w = r.window, from = short(m.sender);
    if (Date.now() >= lastVoteAt(net.ctx, w) || await this.#hasVoted(w)) return;
    const turn = proposeAt(net.ctx, w, m.sender)!;
    // Half a fallback of slack for clocks; a proposal before its turn would pre-empt the order.
    if (Date.now() < turn - this.#quorum!.fallbackMs / 2) {
      this.#considered.delete(id); // clocks differ: a later copy may come in its turn here
      this.#report.log(`refused the record of window ${w} from ${from}: proposed before its turn`);
      return;
    }
    const head = chain.hashHex;
    if (hex(r.modelHash) !== head) {
      this.#considered.delete(id);
      if (!this.#later.has(id)) {
        this.#report.log(
          `record of window ${w} from ${from} starts from ${hex(r.modelHash).slice(0, 12)}, ` +
            `this validator is at ${head.slice(0, 12)} (window ${chain.applied}); not voted yet`,
        );
      }
      if (this.#later.size < 64) this.#later.set(id, { m, bytes });
      this.#behind = true;
      this.#waker.wake();
      return;
    }
    const held = await this.#votes.holding(this.#from());
    if (held !== null && held.window !== w) {
      // Checked again if a copy comes once that vote no longer holds (its window cannot count).
      this.#considered.delete(id);
      if (this.#heldBack.has(id) || this.#heldBack.size >= 64) return;
      this.#heldBack.set(id, { m, bytes });
      this.#report.log(
        `not voting for the record of window ${w} from ${from}: this validator voted for ` +
          `window ${held.window}'s record from the same head, which may still count`,
      );
      return;
    }
    let next: NextModel;
    try {
      const authors = [m.sender, ...r.contributors.map((c) => c.address)]
        .map((a) => net.peerOf.get(a));
      next = await chain.prepareRecord(r, (h) => net.fetchPayload(h, authors));
    } catch (e) {
      // Only a verdict on the record is final; a payload fetch that failed (a NetError, say
      // just after a restart) may succeed with the next re-announced copy.
      if (!(e instanceof ChainError)) this.#considered.delete(id);
      this.#report.log(`refused the record of window ${w} from ${from}: ${(e as Error).message}`);
      return;
    }
    this.#checked.set(id, { window: w, from: head, next });
    if (await this.#vote(w, bytes)) {
      this.#report.log(`voted for the record of window ${w} from ${from}`);
    }
  }

  /**
   * Votes for the signed record `recordBytes` of window `w` unless this validator voted in `w`
   * already: the vote is kept (atomically) before it is signed and sent, with the record.
   */
  async #vote(w: number, recordBytes: Uint8Array): Promise<boolean> {
    const { net } = this.#c;
    const hash = recordHash(recordBytes);
    const proposal = decodeMessage(recordBytes);
    if (!proposal.ok || proposal.message.body.kind !== "round-record") return false;
    if (Date.now() >= lastVoteAt(net.ctx, w)) {
      // Votes of a window stop before its give-up time, so that its votes are settled later.
      this.#report.log(`not voting in window ${w}: past its last vote time`);
      return false;
    }
    // The head the record starts from, checked against the head at the moment the vote is
    // kept (under the vote book's lock): the check before took seconds, and a record from the
    // same head may have got this validator's vote and been applied meanwhile.
    const { chain } = this.#c;
    const from: VoteFrom = {
      ...this.#from(),
      head: proposal.message.body.modelHash,
      current: () => ({ head: chain.hash, applied: chain.applied }),
    };
    if (!await this.#votes.take(w, hash, from)) return false;
    const vote = await net.sign({ kind: "record-vote", window: w, recordHash: hash });
    for (const b of [recordBytes, vote]) {
      const m = decodeMessage(b);
      if (!m.ok) continue;
      if (b === recordBytes) this.#ballots.set(w, { bytes: b, timestamp: m.message.timestamp });
      else this.#sentAt.set(w, { vote: Date.now(), proposal: Date.now() });
      this.#tally(m.message, b);
      await net.publishSigned(net.node.topics.rounds, b);
    }
    return true;
  }

  /** Whether this validator voted in window `w` (its `votes/` survive restarts). */
  async #hasVoted(w: number): Promise<boolean> {
    return await this.#votes.voted(w) !== null;
  }

  /** Counts a proposal or vote; keeps the record it makes count and wakes the round loop. */
  #tally(m: Message, bytes: Uint8Array): void {
    const { net, chain } = this.#c;
    const r = net.records.fromGossip(m, bytes);
    if (r === undefined || r.record.window <= chain.applied) return;
    void net.records.add(r).then(() => this.#waker.wake()).catch((e) =>
      this.#report.log(`keeping the record of window ${r.record.window} failed: ${e}`)
    );
  }

  /** With a quorum: applies the records that count after the head, in order. */
  async #applyCertified(): Promise<void> {
    const { net, chain } = this.#c;
    for (const r of net.records.after(chain.applied)) {
      const w = r.record.window;
      if (hex(r.record.modelHash) !== chain.hashHex) {
        // Behind (a record it missed) or on another model: ask the others.
        this.#behind = true;
        await this.#catchUp();
        return;
      }
      const known = this.#checked.get(hex(recordHash(proposalOf(r))));
      let next: NextModel;
      try {
        next = known !== undefined && known.from === chain.hashHex &&
            hex(known.next.hash) === hex(r.record.nextModelHash)
          ? known.next
          : await chain.prepareRecord(r.record, (h) => net.fetchPayload(h, []));
      } catch (e) {
        if (!(e instanceof ChainError)) throw e;
        this.#report.log(`record of window ${w} does not apply: ${e.message}; catching up`);
        this.#behind = true;
        await this.#catchUp();
        return;
      }
      chain.commit(w, next);
      await this.#keep(r);
      this.#report.log(
        `window ${w} record counts (${r.voters?.length ?? 1} votes) ${
          Date.now() - net.ctx.clock.windowEnd(w) - net.ctx.graceMs
        } ms after the deadline`,
      );
    }
  }

  /** After the head moved by `r` (here or by a catch-up): payloads, state, checkpoint, event. */
  async #keep(r: SignedRecord): Promise<void> {
    const { net, chain } = this.#c;
    const w = r.record.window;
    // All at once, as in #finish: one after the other each await waits for the loop's turn.
    const kept = await Promise.all(r.record.contributors.map(async (c) => {
      const h = hex(c.payloadHash);
      try {
        const bytes = await net.fetchPayload(h, []);
        await net.node.store.put(h, bytes, { pin: true });
        await this.#payloads.put(h, bytes);
        return h;
      } catch (e) {
        // A record made before the checkpoint a catch-up loaded: its payloads may be gone.
        this.#report.log(
          `payload ${h.slice(0, 12)} of window ${w} not kept: ${(e as Error).message}`,
        );
        return null;
      }
    }));
    for (const h of kept) if (h !== null) this.#kept.push({ window: w, hash: h });
    await this.#c.state.save(
      net.ctx,
      { applied: w, lastTrained: -1, params: chain.params },
      chain.hash,
    );
    for (const k of this.#checked.keys()) if (this.#checked.size > 64) this.#checked.delete(k);
    for (const p of this.#proposed) if (p <= w) this.#proposed.delete(p);
    for (const b of this.#ballots.keys()) if (b <= w) this.#ballots.delete(b);
    for (const b of this.#sentAt.keys()) if (b <= w) this.#sentAt.delete(b);
    for (const [id, p] of this.#heldBack) {
      if (p.m.body.kind !== "round-record" || p.m.body.window <= w) this.#heldBack.delete(id);
    }
    if (w % 64 === 0) await this.#votes.prune(w - 64);
    this.#emitApplied(r);
    await this.#applied(r);
    // Proposals that start from the new head can be checked now.
    for (const [id, p] of this.#later) {
      const b = p.m.body;
      if (b.kind !== "round-record" || b.window <= w) this.#later.delete(id);
      else if (hex(b.modelHash) === chain.hashHex) {
        this.#later.delete(id);
        this.#considerLater(p.m, p.bytes);
      }
    }
  }

  /** With a quorum: fetches and applies the records it missed from the others (every 2 s at most). */
  async #catchUp(): Promise<void> {
    const { net, chain } = this.#c;
    if (Date.now() - this.#askedAt < 2_000) return;
    this.#askedAt = Date.now();
    this.#behind = false;
    const r = await net.catchUp(chain, (r) => this.#keep(r));
    if (!r.answered) this.#behind = true; // nobody to ask yet (just started): again shortly
    if (r.applied > 0) this.#report.log(`caught up ${r.applied} record(s) from the others`);
  }

  #validLoss: { hash: string; loss: number } | null = null;

  /** The held-out loss of the head θ_w, measured once per head; undefined without batches. */
  async #heldOutLoss(): Promise<number | undefined> {
    const held = this.#c.heldOut, { chain } = this.#c;
    if (held === undefined || held.batches.length === 0) return undefined;
    if (this.#validLoss?.hash !== chain.hashHex) {
      const loss = await held.probe.loss(chain.params, held.batches);
      this.#validLoss = { hash: chain.hashHex, loss };
    }
    return this.#validLoss.loss;
  }

  /** θ_window as a checkpoint: stored, served by hash, announced through the sync protocol. */
  async #checkpoint(window: number): Promise<void> {
    const { net, chain } = this.#c;
    const bytes = encodeCheckpoint(net.ctx.tensors, chain.params, {
      runId: net.ctx.runIdHex,
      window,
      modelHash: chain.hashHex,
    });
    const hash = await net.node.store.add(bytes, { pin: true });
    await this.#checkpoints.put(`${String(window).padStart(10, "0")}.safetensors`, bytes);
    const old = net.records.servedCheckpoint;
    net.records.servedCheckpoint = { window, hash, size: bytes.length };
    if (old !== null) net.node.store.unpin(old.hash);
    // Payloads before the checkpoint are no longer needed to replay.
    for (const k of this.#kept.filter((k) => k.window < window)) {
      net.node.store.unpin(k.hash);
      await this.#payloads.delete(k.hash).catch(() => {});
    }
    this.#kept = this.#kept.filter((k) => k.window >= window);
    this.#report.log(
      `checkpoint of window ${window}: ${hash.slice(0, 12)} (${bytes.length} bytes)`,
    );
  }

  /** After a restart: serve the newest checkpoint and the payloads recorded since. */
  async #restore(): Promise<void> {
    const { net } = this.#c;
    const newest = (await this.#checkpoints.list())
      .filter((n) => /^\d{10}\.safetensors$/.test(n))
      .sort().pop();
    const bytes = newest === undefined ? null : await this.#checkpoints.get(newest);
    if (newest !== undefined && bytes !== null) {
      const hash = await net.node.store.add(bytes, { pin: true });
      net.records.servedCheckpoint = {
        window: Number(newest.slice(0, 10)),
        hash,
        size: bytes.length,
      };
    }
    const from = net.records.servedCheckpoint?.window ?? 0;
    for (const r of net.records.after(from - 1)) {
      for (const c of r.record.contributors) {
        const h = hex(c.payloadHash);
        try {
          const bytes = await this.#payloads.get(h);
          if (bytes === null) throw new Error("not kept");
          await net.node.store.put(h, bytes, { pin: true }); // put verifies the hash
          this.#kept.push({ window: r.record.window, hash: h });
        } catch (e) {
          this.#report.log(
            `payload ${h.slice(0, 12)} of window ${r.record.window} not restored: ${
              (e as Error).message
            }`,
          );
        }
      }
    }
  }
}

function short(address: string): string {
  return address.slice(0, 8);
}

/** The signed proposal inside a record that counts (its certificate's record). */
function proposalOf(r: SignedRecord): Uint8Array {
  const parts = certificateParts(r.bytes);
  return typeof parts === "string" ? r.bytes : parts.record;
}
