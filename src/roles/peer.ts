/**
 * The peer role: each window it trains up to H inner steps from θ_w on its own batches,
 * compresses the pseudo-gradient (SparseLoCo), serves the payload and announces it; then it
 * applies the validator's round record — fetching the selected payloads from anyone who has
 * them — and checks that its model hash equals the record's. Its state (θ, error feedback,
 * last window) is saved atomically after every change, so a restarted peer resumes and
 * catches up. DESIGN.md "A round".
 *
 * With the genesis' outer delay 1 (`rounds.outerDelay`, `ModelChain`) the peer never waits for
 * a record: it trains window w from θ_w (the head after record w − 2) and announces; record
 * w − 1 arrives while it trains, is fetched and aggregated in the background
 * ({@linkcode ModelChain.prepareRecord}) and committed at the boundary w → w + 1. A window
 * that ends on its deadline (the next step would not fit) starts the next one at once rather
 * than idling through the rest of a step.
 *
 * The error-feedback buffer lives where the trainer compresses: on a WebGPU backend it stays on
 * the device, and reading it back costs as much as reading θ, which the compression path
 * otherwise never does. So a GPU peer refreshes the copy it saves only every
 * {@link GPU_ERROR_SAVE_WINDOWS} windows and when it stops; a crash in between resumes from an
 * older error feedback (that peer's later updates differ, which every rule allows: the buffer is
 * the peer's own). A CPU peer reads it (a host copy) after every window, as before.
 *
 * @module
 */

import type { ScoredPeer } from "../codec/messages.ts";
import { encodeUpdate } from "../codec/update_codec.ts";
import { hashBytes } from "../net/payload_store.ts";
import {
  ChainError,
  type ModelChain,
  type NextModel,
  type PayloadFetcher,
} from "../protocol/model_chain.ts";
import type { RoleNode } from "./role_node.ts";
import type { SignedRecord } from "../protocol/record_log.ts";
import { runCredit } from "../protocol/credit.ts";
import { gauntletOf } from "../protocol/genesis.ts";
import { decodeDelegation } from "../identity/delegation.ts";
import { addressFromPublicKey } from "../identity/address.ts";
import { type EventSink, type RoleStatus, StatusReporter, Waker } from "./role_events.ts";
import type { RoleState } from "./role_state.ts";
import { type InnerLoop, tailMs } from "./window_trainer.ts";

/** How often a peer whose round record is late asks the network for it. */
const ASK_EVERY_MS = 2_000;

/** How often an update announcement is repeated until its round record arrives. */
export const REANNOUNCE_MS = 1_500;

/** Windows between read-backs of a GPU peer's error feedback for saving (and at stop). */
export const GPU_ERROR_SAVE_WINDOWS = 8;

/** What a peer is made of. */
export interface PeerComponents {
  /** Network side (node, signer, records). */
  net: RoleNode;
  /** The model head. */
  chain: ModelChain;
  /** Inner steps on this peer's backend (on its thread or in a Worker). */
  trainer: InnerLoop;
  /** Where θ, the error feedback and the last window trained are saved after every change. */
  state: RoleState;
  /** The error-feedback buffer to start from (saved or new); the trainer holds it from then on. */
  error: Float32Array;
  /** Last window trained before a restart (−1: none). */
  lastTrained: number;
  /** Status and events. */
  emit: EventSink;
}

/** A training peer. `start()`, then `stop()`. */
export class Peer {
  readonly #c: PeerComponents;
  readonly #waker = new Waker();
  #running: Promise<void> | null = null;
  #stopped = false;
  #lastTrained: number;
  /** The error feedback as last read from the trainer: what is saved. */
  #error: Float32Array;
  /** Last window whose compression #error includes. */
  #errorAt: number;
  readonly #report: StatusReporter;
  #trainEnd: {
    window: number;
    /** When its inner loop started (ms). */
    start: number;
    steps: number;
    loss: number;
    computeMs: number;
    /** Time in the inner loop but not in steps: loading θ, yields, the worker's messages. */
    gapMs: number;
    /** From the inner loop's end to the announcement: compress, read the error, encode. */
    compressMs: number;
    up: number;
    /** Payload bytes fetched when its inner loop started. */
    down: number;
  } | null = null;

  constructor(c: PeerComponents) {
    this.#c = c;
    this.#lastTrained = c.lastTrained;
    this.#error = c.error;
    this.#errorAt = c.lastTrained;
    c.trainer.loadError(c.error);
    // Outer delay 1: the base of a window's updates is named by the previous record.
    c.chain.recordBase = (w) => c.net.records.get(w)?.record.modelHash;
    this.#report = new StatusReporter(
      "peer",
      c.net.signer.address,
      {
        applied: c.chain.applied,
        modelHash: c.chain.hashHex,
        of: c.net.ctx.genesis.sparseloco.H,
      },
      c.net.traffic,
      c.emit,
    );
  }

  /** Subscribes, announces itself and starts the round loop. */
  start(): void {
    const { net } = this.#c;
    net.start();
    net.subscribe(net.node.topics.rounds, async (m, bytes) => {
      const r = net.records.fromGossip(m, bytes);
      if (r !== undefined && r.record.window > this.#c.chain.applied && await net.records.add(r)) {
        this.#prepareNext();
        this.#waker.wake();
      }
    });
    this.#running = this.#run();
  }

  /**
   * Stops after the current inner step; the saved state is the last one (a GPU peer's with its
   * current error feedback).
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#waker.wake();
    await this.#running;
    // A GPU peer's saved error feedback may be some windows old: save the current one.
    if (this.#c.trainer.errorOnDevice && this.#errorAt < this.#lastTrained) {
      await this.#readError(this.#lastTrained);
      await this.#save();
    }
    // The saves still in the background land before the node goes.
    await this.#saving;
    this.#c.trainer.close?.();
    this.#c.net.stop();
  }

  /** The current status (also emitted on every change). */
  get status(): RoleStatus {
    return this.#report.status;
  }

  async #run(): Promise<void> {
    const { net, chain } = this.#c;
    this.#report.set({ phase: "catching up" });
    const t0 = Date.now();
    // Give the bootstrap dial a moment; catching up needs someone to ask.
    for (let i = 0; i < 40 && net.node.peers().length === 0 && !this.#stopped; i++) {
      await this.#waker.sleep(250);
    }
    // Caught up means someone answered: retry (bounded) while nobody does.
    let n = 0;
    for (let i = 0; i < 30 && !this.#stopped; i++) {
      this.#applyStart = Date.now();
      const r = await this.#guard(() => net.catchUp(chain, (r) => this.#onApplied(r)));
      n += r?.applied ?? 0;
      if (r?.answered) break;
      await this.#waker.sleep(1000);
    }
    this.#c.emit({
      event: "caught-up",
      address: net.signer.address,
      records: n,
      ms: Date.now() - t0,
      applied: chain.applied,
    });
    while (!this.#stopped) {
      // A failed fetch or sync must not end the peer: log it and try again shortly.
      if (await this.#guard(() => this.#step()) === undefined && !this.#stopped) {
        await this.#waker.sleep(1000);
      }
    }
  }

  #askedAt = -Infinity;

  /** One pass of the round loop; returns true, or undefined (from #guard) after an error. */
  async #step(): Promise<true> {
    const { net, chain } = this.#c;
    const clock = net.ctx.clock, grace = net.ctx.graceMs;
    const d = chain.outerDelay;
    const now = Date.now();
    // Outer delay 1: the next window may start as soon as this one's training is over (its base
    // is known by then), so the window's end is not idled away.
    const w = clock.windowAt(now + (d === 1 ? this.#leadMs() : 0));
    this.#report.set({ window: w, connections: net.node.peers().length });
    if (w < 0) {
      this.#report.set({ phase: "waiting for genesis" });
      await this.#waker.sleep(Math.min(clock.windowStart(0) - now, 1000));
      return true;
    }
    // θ_w includes the records up to window w − 1 − d.
    const need = w - 1 - d;
    if (d === 0) await this.#applyPending();
    else await this.#applyUpTo(need);
    if (this.#stopped) return true;
    if (chain.applied < need) {
      // The record of window `need` is due shortly after its grace period; after that, ask.
      const due = clock.windowEnd(need) + 2 * grace;
      if (now < due) {
        this.#report.set({ phase: `waiting for record ${need}` });
        await this.#waker.sleep(Math.min(due - now, 500));
        return true;
      }
      // Late: ask now and then. Never train from an older model meanwhile — the validator
      // refuses an update that was not trained from θ_w, so it would be work thrown away.
      if (now - this.#askedAt >= ASK_EVERY_MS) {
        this.#askedAt = now;
        this.#report.set({ phase: "syncing" });
        this.#applyStart = Date.now();
        await net.catchUp(chain, (r) => this.#onApplied(r));
        return true;
      }
      this.#report.set({ phase: `waiting for record ${need}` });
      await this.#waker.sleep(250);
      return true;
    }
    // Outer delay 1: a catch-up applied record w − 1 already; θ_w is gone, so join w + 1.
    const behind = d === 1 && chain.applied > need;
    if (
      behind || this.#lastTrained >= w ||
      clock.windowEnd(w) - now < 0.25 * net.ctx.genesis.windowMs
    ) {
      this.#report.set({ phase: this.#lastTrained >= w ? "announced" : "joining next window" });
      const early = d === 1 && !behind ? this.#leadMs() : 0;
      await this.#waker.sleep(Math.max(1, Math.min(clock.windowEnd(w) - early - now, 1000)));
      return true;
    }
    await this.#trainWindow(w);
    return true;
  }

  async #guard<R>(f: () => Promise<R>): Promise<R | undefined> {
    try {
      return await f();
    } catch (e) {
      if (!this.#stopped) this.#report.log(`${e instanceof Error ? e.message : e}`);
      return undefined;
    }
  }

  async #applyPending(): Promise<void> {
    const { net, chain } = this.#c;
    if (net.records.after(chain.applied).length === 0) return;
    this.#report.set({ phase: "applying record" });
    this.#applyStart = Date.now();
    try {
      await net.applyKnown(chain, (r) => this.#onApplied(r));
    } catch (e) {
      if (!(e instanceof ChainError)) throw e;
      this.#report.log(`${e.message}; re-syncing`);
      this.#applyStart = Date.now();
      await net.catchUp(chain, (r) => this.#onApplied(r));
    }
  }

  /**
   * Outer delay 1: applies the known records up to window `last` (not later ones: those
   * move θ beyond the window about to be trained), each one prepared in the background when
   * it arrived.
   */
  async #applyUpTo(last: number): Promise<void> {
    const { net, chain } = this.#c;
    for (const r of net.records.after(chain.applied)) {
      if (r.record.window > last || this.#stopped) return;
      this.#report.set({ phase: "applying record" });
      this.#applyStart = Date.now();
      try {
        chain.commit(r.record.window, await this.#prepared(r));
      } catch (e) {
        if (!(e instanceof ChainError)) throw e;
        this.#report.log(`${e.message}; re-syncing`);
        this.#applyStart = Date.now();
        await net.catchUp(chain, (r) => this.#onApplied(r));
        return;
      }
      await this.#onApplied(r);
      this.#prepareNext();
    }
  }

  /** The next head a record makes, as prepared in the background (or prepared now). */
  #prepared(r: SignedRecord): Promise<NextModel> {
    const p = this.#prep;
    if (p !== null && p.window === r.record.window && p.from === this.#c.chain.hashHex) {
      return p.next;
    }
    return this.#c.chain.prepareRecord(r.record, this.#fetcherOf(r));
  }

  /** Outer delay 1: starts fetching and aggregating the next record to apply, if known. */
  #prepareNext(): void {
    const { net, chain } = this.#c;
    if (chain.outerDelay === 0) return;
    const r = net.records.after(chain.applied)[0];
    if (r === undefined) return;
    const p = this.#prep;
    if (p !== null && p.window === r.record.window && p.from === chain.hashHex) return;
    const next = chain.prepareRecord(r.record, this.#fetcherOf(r));
    // Reported when it is committed; a failed fetch is tried afresh then.
    next.catch(() => {
      if (this.#prep?.next === next) this.#prep = null;
    });
    this.#prep = { window: r.record.window, from: chain.hashHex, next };
  }

  /** Fetches a record's payloads, preferring its validator and authors. */
  #fetcherOf(r: SignedRecord): PayloadFetcher {
    const { net } = this.#c;
    const authors = [r.sender, ...r.record.contributors.map((c) => c.address)]
      .map((a) => net.peerOf.get(a));
    return (h) => net.fetchPayload(h, authors);
  }

  /** A record being prepared: its window, the head it starts from, the next head. */
  #prep: { window: number; from: string; next: Promise<NextModel> } | null = null;
  #applyStart = 0;
  #applyMs = 0;
  /** How long the last inner step took (ms): how early a window ending on its deadline may end. */
  #lastStepMs = 0;
  /**
   * The last window's tail ({@linkcode tailMs}: from its inner loop's end until the update was
   * ready: the Worker's answer, compressing, reading back, encoding). The next inner loop ends
   * that much before its window's end, so the update is announced by then and the grace period
   * is left for the transfer (on a loaded machine this takes seconds, and updates were late).
   */
  #lastTailMs = 0;

  /** Outer delay 1: how long before a window's start its training may begin (ms). */
  #leadMs(): number {
    return this.#lastStepMs + this.#lastTailMs;
  }

  /** The last save queued or running (saves never overlap: each one prunes the others' files). */
  #saving: Promise<void> = Promise.resolve();
  /** A save queued behind the running one: later callers share it (it reads the state then). */
  #saveQueued: Promise<void> | null = null;

  /**
   * Saves θ (the chain head), the error feedback as last read, and the last window trained, as
   * they are when the save starts. Saves run one at a time, in the background of the round:
   * the next window's inner steps do not wait for the disk.
   */
  #save(): Promise<void> {
    if (this.#saveQueued !== null) return this.#saveQueued;
    const { net, chain, state } = this.#c;
    const p = this.#saving.then(() => {
      this.#saveQueued = null;
      return state.save(net.ctx, {
        applied: chain.applied,
        lastTrained: this.#lastTrained,
        params: chain.params,
        error: this.#error,
      }, chain.hash);
    });
    this.#saveQueued = p;
    this.#saving = p.catch(() => {});
    return p;
  }

  /** {@link #save}, not awaited: a failure is logged (the next save tries again). */
  #saveLater(): void {
    this.#save().catch((e) => {
      if (!this.#stopped) {
        this.#report.log(`saving the state: ${e instanceof Error ? e.message : e}`);
      }
    });
  }

  /** Whom this peer's credit goes to: the wallet its key speaks for, else the key. */
  #wallet(): string {
    const d = this.#c.net.signer.delegation;
    const decoded = d === undefined ? null : decodeDelegation(d);
    return decoded === null ? this.#c.net.signer.address : addressFromPublicKey(decoded.wallet);
  }

  /** Reports an applied record; its save runs in the background (the shape RoleNode calls). */
  #onApplied(r: SignedRecord): Promise<void> {
    const { net, chain } = this.#c;
    if (this.#trainEnd?.window === r.record.window + chain.outerDelay) {
      this.#applyMs = Date.now() - this.#applyStart;
    }
    this.#saveLater();
    this.#c.emit({
      event: "applied",
      role: "peer",
      address: net.signer.address,
      window: r.record.window,
      modelHash: chain.hashHex,
      contributors: r.record.contributors.length,
      selected: r.record.contributors.map((c) => c.address),
    });
    const mine = r.record.scored?.find((s) => s.address === net.signer.address);
    const held = net.records.after(-1);
    const table = runCredit(held.map((x) => x.record), gauntletOf(net.ctx.genesis));
    const wallet = this.#wallet();
    this.#report.set({
      ...(table.length === 0 ? {} : {
        credit: {
          wallet,
          share: table.find((c) => c.address === wallet)?.share ?? 0,
          records: held.length,
        },
      }),
      applied: chain.applied,
      modelHash: chain.hashHex.slice(0, 12),
      contributors: r.record.contributors.length,
      validLoss: r.record.validLoss ?? null,
      ...(mine === undefined
        ? {}
        : { standing: { score: mine.score, verdict: verdictText(mine) } }),
    });
    return Promise.resolve();
  }

  async #trainWindow(w: number): Promise<void> {
    const { net, chain, trainer } = this.#c;
    const ctx = net.ctx;
    const start = Date.now();
    // Payload bytes are counted from one round's start to the next: in the overlapped mode the
    // record's payloads are fetched while the next window trains, not at the boundary.
    const down = net.traffic.down;
    const prev = this.#trainEnd;
    if (prev !== null) {
      this.#c.emit({
        event: "round",
        address: net.signer.address,
        window: prev.window,
        steps: prev.steps,
        loss: prev.loss,
        computeMs: prev.computeMs,
        // Everything of the round that is not inner steps: compressing, announcing, waiting
        // for and applying the record, the end of the window no step fitted into.
        idleMs: Math.max(0, start - prev.start - prev.computeMs),
        gapMs: prev.gapMs,
        compressMs: prev.compressMs,
        applyMs: this.#applyMs,
        bytesUp: prev.up,
        bytesDown: net.traffic.down - prev.down,
      });
    }
    this.#report.set({ phase: "training", step: 0 });
    const base = chain.hash;
    const t0 = Date.now();
    const res = await trainer.train(
      chain.params,
      w,
      ctx.clock.windowEnd(w) - this.#lastTailMs,
      (s) => this.#report.set({ step: s.step }),
      Date.now,
      // Overlapped: the validator fetches window w − 1's update until its grace ends.
      chain.outerDelay === 1 && w > 0 ? ctx.clock.windowEnd(w - 1) + ctx.graceMs : 0,
    );
    const t1 = Date.now();
    this.#lastStepMs = res.lastStepMs;
    if (res.steps === 0) {
      this.#lastTrained = w;
      return;
    }
    this.#report.set({ phase: "compressing", loss: res.meanLoss });
    const tensors = await trainer.compress();
    if (!trainer.errorOnDevice || w - this.#errorAt >= GPU_ERROR_SAVE_WINDOWS) {
      await this.#readError(w);
    }
    this.#lastTrained = w;
    const payload = encodeUpdate({
      indexMode: ctx.indexMode,
      runId: ctx.runId,
      window: w,
      modelHash: base,
      tensors: tensors.map((t, id) => ({ ...t, id })),
    });
    const payloadHash = await net.node.store.add(payload, { pin: true });
    this.#unpinOld(payloadHash);
    net.traffic.up += payload.length;
    const gapMs = t1 - t0 - res.seconds * 1000, compressMs = Date.now() - t1;
    this.#lastTailMs = tailMs(res, Date.now(), ctx.genesis.windowMs);
    this.#trainEnd = {
      window: w,
      start,
      steps: res.steps,
      loss: res.meanLoss,
      computeMs: res.seconds * 1000,
      gapMs,
      compressMs,
      up: payload.length,
      down,
    };
    this.#report.set({ phase: "announced", bytesUp: net.traffic.up });
    const body = {
      kind: "update-announce" as const,
      window: w,
      modelHash: base,
      payloadHash: hashBytes(payloadHash),
      size: payload.length,
    };
    // Announced first, saved in the background: a restart before the save lands cannot train
    // window w again (no window is begun in its last quarter, and the update comes at its end).
    // Gossip keeps no history: repeat until the record is in or the window's grace is over.
    const until = ctx.clock.windowEnd(w) + ctx.graceMs;
    void (async () => {
      while (
        !this.#stopped && Date.now() < until && chain.applied < w &&
        net.records.get(w) === undefined
      ) {
        await net.publish(net.node.topics.updates, body);
        await new Promise((r) => setTimeout(r, REANNOUNCE_MS));
      }
    })();
    this.#saveLater();
  }

  async #readError(w: number): Promise<void> {
    this.#error = await this.#c.trainer.readError();
    this.#errorAt = w;
  }

  #ownPayloads: string[] = [];

  #unpinOld(latest: string): void {
    this.#ownPayloads.push(latest);
    // Keep the last few: a record may select an update of an earlier window's grace period.
    while (this.#ownPayloads.length > 4) this.#c.net.node.store.unpin(this.#ownPayloads.shift()!);
  }
}

/** A verdict as the live view shows it: "selected", "copy of 5Fxy…", "banned until window 42". */
export function verdictText(s: ScoredPeer): string {
  if (s.verdict === "copy") return `copy of ${s.other?.slice(0, 6) ?? "?"}…`;
  if (s.verdict === "banned") return `banned until window ${s.until + 1}`;
  return s.verdict.replace("-", " ");
}
