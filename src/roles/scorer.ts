/**
 * The validator's scoring of a run (GAUNTLET.md): the gauntlet's judgement of each window on
 * the validator's own backend, with the peer book persisted atomically in its store after
 * every window and every ban, so a restarted validator scores on from where it was. The loss
 * batches follow the deterministic sampler: a peer's assigned batches are rebuilt from its key
 * and the window, at steps drawn from the validator's own randomness.
 *
 * The assignment test runs one window behind, off the record's path: window w's runs after
 * w's record, while window w + 1 collects, yielding to the event loop before every forward
 * pass; its z values enter the book (saved again) when it ends, so a peer it finds wanting is
 * left out from the next record on. It is never dropped at a deadline (dropped, a test that
 * did not fit a window was lost every window, and under the burden of proof nobody left
 * probation): it is carried on, and the next judgement takes the probe from it between two of
 * its forward passes (one user of the probe at a time, in turn) and hands it back. At most one
 * test runs and one waits: a later window's test replaces the one waiting, so the work never
 * piles up, and whatever the number of updates every key gets a finished test, at worst two
 * tests' time after its window. `stop()` (the validator's shutdown) drops the test in flight
 * and the one waiting; a restart forgets both (the z values of finished tests are in the book).
 * The previous window's updates (the replay check's
 * reference) are kept in the store (`replay/`, by content hash) and named in the book, written
 * before it: a restarted validator still refuses a replay of them.
 *
 * @module
 */

import type { Sampler } from "../data/sampler.ts";
import {
  type JudgeContext,
  type Judgement,
  judgeWindow,
  scoringBudgetMs,
  type Submission,
} from "../gauntlet/gauntlet.ts";
import type { LossProbe } from "../gauntlet/loss_check.ts";
import { type Equivocation, PeerBook } from "../gauntlet/peer_book.ts";
import { publicKeyFromAddress } from "../identity/address.ts";
import { gauntletOf } from "../protocol/genesis.ts";
import type { GauntletSpec } from "../protocol/gauntlet_spec.ts";
import { dataPeerIndex, type RunContext } from "../protocol/run_context.ts";
import type { StateStore } from "../protocol/state_store.ts";
import { evaluationBatches } from "./model_probe.ts";
import { decodeUpdate, encodeUpdate } from "../codec/update_codec.ts";
import type { CompressedTensor, QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";

/** The book's name in the validator's store. */
export const BOOK_FILE = "gauntlet.json";
/** Sub-folder of the store with the previous window's updates, named by content hash. */
export const REPLAY_DIR = "replay";

/** What the book file holds besides the book: the files of the replay check's updates. */
interface ReplayRefs {
  window: number;
  updates: { address: string; file: string }[];
}

/** What a scorer is made of. */
export interface ScorerParts {
  ctx: RunContext;
  /** The validator's forward-only model. */
  probe: LossProbe;
  /** The run's sampler over the training tokens. */
  sampler: Sampler;
  /** The validator's public key: its data stream is assigned to nobody. */
  validatorKey: Uint8Array;
  /** Where the book is kept. */
  store: StateStore;
  /** Log lines. */
  log: (line: string) => void;
  /** Fresh randomness for the evaluation steps (default: WebCrypto). */
  nonce?: () => number;
  /** The wallet a delegated session key speaks for (credit goes to it). */
  ownerOf?: (address: string) => string;
}

/** Scores the windows of one run. */
export class Scorer {
  readonly spec: GauntletSpec;
  readonly #p: ScorerParts;
  readonly #book: PeerBook;
  /** The last judged window's decoded updates, and the files they are kept in. */
  #previous: NonNullable<JudgeContext["previous"]>[number][] = [];
  #replay: ReplayRefs | null = null;
  /** The assignment test in flight: `drop` stops it at its next forward pass. */
  #job: { drop: boolean; done: Promise<void> } | null = null;
  /** The window of the test in flight (−1: none). */
  #running = -1;
  /** The next window's test, waiting for the one in flight (a newer one replaces it). */
  #waiting: Judgement["assignment"] | null = null;
  /** The probe's queue: each user awaits the one before it (see {@linkcode Scorer.#take}). */
  #turn: Promise<void> = Promise.resolve();
  /** Book writes, one after the other (each writes the book as it is when its turn comes). */
  #saving: Promise<void> = Promise.resolve();

  private constructor(p: ScorerParts, spec: GauntletSpec, book: PeerBook) {
    this.#p = p;
    this.spec = spec;
    this.#book = book;
  }

  /**
   * Loads the book and the previous window's updates it names (a damaged book is quarantined
   * and scoring starts afresh; a missing or damaged update file is left out of the replay
   * check; each with a log line).
   */
  static async open(p: ScorerParts): Promise<Scorer> {
    const spec = gauntletOf(p.ctx.genesis);
    const bytes = await p.store.get(BOOK_FILE);
    let book = new PeerBook(spec), replay: unknown = undefined;
    if (bytes !== null) {
      try {
        const json = JSON.parse(new TextDecoder().decode(bytes));
        book = PeerBook.fromJSON(spec, json);
        replay = json.replay;
      } catch (e) {
        const moved = await p.store.quarantine(BOOK_FILE);
        p.log(`${p.store.where}/${BOOK_FILE}: ${(e as Error).message}; kept as ${moved}, scoring afresh`);
      }
    }
    const scorer = new Scorer(p, spec, book);
    await scorer.#loadReplay(replay);
    return scorer;
  }

  async #loadReplay(json: unknown): Promise<void> {
    const r = json as ReplayRefs | undefined | null;
    if (r === undefined || r === null) return;
    if (!Number.isInteger(r.window) || !Array.isArray(r.updates)) {
      this.#p.log(`${BOOK_FILE}: its replay list is damaged; no replay check for one window`);
      return;
    }
    const dir = this.#p.store.sub(REPLAY_DIR), kept: ReplayRefs = { window: r.window, updates: [] };
    for (const u of r.updates) {
      try {
        if (typeof u?.address !== "string" || typeof u.file !== "string") throw new Error("damaged entry");
        const bytes = await dir.get(u.file);
        if (bytes === null) throw new Error("missing");
        if (hex(await sha256(bytes)) !== u.file) throw new Error("does not match its hash");
        this.#previous.push({ address: u.address, tensors: decodeUpdate(bytes).tensors });
        kept.updates.push(u);
      } catch (e) {
        this.#p.log(`${REPLAY_DIR}/${u?.file}: ${(e as Error).message}; left out of the replay check`);
      }
    }
    this.#replay = kept;
  }

  /**
   * Window `w`'s well-formed updates become the replay check's reference: the files the saved
   * book no longer names are deleted, then each update is written to `replay/`, then the book
   * naming them (the caller's save): the book never names a file that is not there.
   */
  async #keepForReplay(w: number, submissions: readonly Submission[]): Promise<void> {
    const { ctx } = this.#p, dir = this.#p.store.sub(REPLAY_DIR);
    await this.#pruneReplay(); // what the saved book no longer names (two windows ago)
    const refs: ReplayRefs = { window: w, updates: [] };
    this.#previous = [];
    const writes: Promise<void>[] = [];
    for (const s of submissions) {
      if (s.tensors === undefined) continue;
      this.#previous.push({ address: s.address, tensors: s.tensors });
      if (!s.tensors.every(isQuantized)) continue; // only the validator's own tests send raw values
      const bytes = encodeUpdate({
        indexMode: ctx.indexMode,
        runId: ctx.runId,
        window: w,
        modelHash: new Uint8Array(32), // not kept: the check compares indices and values only
        tensors: s.tensors.map((t, id) => ({ ...t, id })),
      });
      const ref = { address: s.address, file: "" };
      refs.updates.push(ref);
      // All at once: this is on the record's path.
      writes.push(sha256(bytes).then((h) => dir.put(ref.file = hex(h), bytes)));
    }
    await Promise.all(writes);
    this.#replay = refs;
  }

  /**
   * Window `w`'s updates become the replay check's reference without judging the window: with
   * a genesis quorum a validator judges only the windows it proposes, yet the window before
   * the next one it judges must still be compared with. Saves the book.
   */
  async remember(w: number, submissions: readonly Submission[]): Promise<void> {
    await this.#keepForReplay(w, submissions);
    await this.#save();
  }

  async #pruneReplay(): Promise<void> {
    const dir = this.#p.store.sub(REPLAY_DIR);
    const keep = new Set(this.#replay?.updates.map((u) => u.file) ?? []);
    const gone = (await dir.list()).filter((name) => !keep.has(name));
    await Promise.all(gone.map((name) => dir.delete(name).catch(() => {})));
  }

  /** The wallet `address` speaks for, or `address` itself (what the round record names). */
  ownerOf(address: string): string {
    return this.#p.ownerOf?.(address) ?? address;
  }

  /** Whether `address` is banned in window `w` (its updates are not even fetched). */
  banned(address: string, w: number): boolean {
    const code = this.#book.exclusion(address, w)?.code;
    return code === "banned" || code === "copy";
  }

  /** Logs equivocation evidence, bans the key, and saves the book. */
  async equivocated(ev: Equivocation): Promise<void> {
    this.#book.equivocated(ev);
    this.#p.log(
      `${ev.address.slice(0, 8)}… signed two updates for window ${ev.window} ` +
        `(${ev.payloads[0].slice(0, 12)}, ${ev.payloads[1].slice(0, 12)}): banned`,
    );
    await this.#save();
  }

  /**
   * Judges window `w` from θ_w (which must not change in place: the assignment test reads it
   * after) and saves the book; takes the probe from the assignment test in flight for the
   * time of the loss checks, and queues window `w`'s test behind it.
   */
  async judge(w: number, theta: Float32Array, submissions: readonly Submission[]): Promise<Judgement> {
    const j = await this.#judge(w, theta, submissions);
    if (j.assignment.tested > 0) this.#queue(j.assignment);
    return j;
  }

  async #judge(w: number, theta: Float32Array, submissions: readonly Submission[]): Promise<Judgement> {
    const { ctx, sampler, probe } = this.#p;
    const nobody = dataPeerIndex(this.#p.validatorKey);
    const nonce = (this.#p.nonce ?? randomU32)();
    const batchesOf = (address: string) =>
      evaluationBatches(
        sampler,
        ctx.genesis.sparseloco.H,
        w,
        dataPeerIndex(publicKeyFromAddress(address)),
        nobody,
        Math.max(this.spec.assignBatches, this.spec.evalBatches),
        nonce,
      );
    const unassigned = batchesOf(ctx.genesis.validators[0]).unassigned;
    // The probe for the loss checks only: the test in flight goes on while the updates and the
    // book are written.
    const release = await this.#take();
    const j = await judgeWindow(w, submissions, this.#book, this.spec, {
      theta,
      layout: ctx.tensors,
      alpha: ctx.genesis.sparseloco.alpha,
      cap: ctx.genesis.maxContributors,
      probe,
      assigned: (a) => batchesOf(a).assigned,
      unassigned,
      seed: ctx.genesis.data.seed,
      // Only the window just before is a replay's source: a validator that judged an older one
      // last (with a quorum it judges only its own turns) has nothing to compare with.
      previous: this.#replay?.window === w - 1 ? this.#previous : [],
      ownerOf: this.#p.ownerOf,
      spanBatch: sampler.span === null ? undefined : sampler.batchSize,
      budgetMs: scoringBudgetMs(ctx.genesis.windowMs),
    }).finally(release);
    await this.#keepForReplay(w, submissions);
    await this.#save();
    return j;
  }

  /**
   * Waits until every assignment test started or queued so far has ended (its z values are in
   * the book): for tests and benches; the validator never waits on it.
   */
  async settled(): Promise<void> {
    while (this.#job !== null) await this.#job.done;
  }

  /**
   * Drops the assignment test in flight and the one waiting, if any, and waits until the probe
   * is let go of (the validator's shutdown).
   */
  async stop(): Promise<void> {
    this.#waiting = null;
    const job = this.#job;
    if (job === null) return;
    job.drop = true;
    await job.done;
  }

  /**
   * The probe for one user: resolves, in call order, once every earlier user has released it,
   * with the release. The test takes it for each forward pass and the judgement for its whole
   * run, so a judgement waits at most one forward pass of the test.
   */
  #take(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const before = this.#turn;
    this.#turn = before.then(() => mine);
    return before.then(() => release);
  }

  /** Runs `a` now, or after the test in flight (replacing the one waiting, which a log line names). */
  #queue(a: Judgement["assignment"]): void {
    if (this.#job === null) return this.#start(a);
    if (this.#waiting !== null) {
      this.#p.log(
        `window ${this.#waiting.window} assignment test skipped: window ${a.window}'s replaces it ` +
          `(window ${this.#running} still running)`,
      );
    }
    this.#waiting = a;
  }

  #start(a: Judgement["assignment"]): void {
    const job = { drop: false, done: Promise.resolve() };
    const DROPPED = new Error("dropped");
    const t0 = performance.now();
    let held: (() => void) | null = null;
    const letGo = () => {
      held?.();
      held = null;
    };
    this.#running = a.window;
    job.done = (async () => {
      try {
        const zs = await a.run(async () => {
          letGo();
          // A macrotask, so the validator's clock and network go on between forward passes.
          await new Promise((r) => setTimeout(r, 0));
          if (job.drop) throw DROPPED;
          held = await this.#take();
          if (job.drop) throw DROPPED;
        });
        letGo();
        this.#book.assigned(a.window, zs);
        await this.#save();
        this.#p.log(
          `window ${a.window} assignment test: ${a.tested} updates, ` +
            `${((performance.now() - t0) / a.tested).toFixed(0)} ms each (wall)`,
        );
      } catch (e) {
        this.#p.log(
          e === DROPPED
            ? `window ${a.window} assignment test dropped: the validator stops ` +
              `(${(performance.now() - t0).toFixed(0)} ms)`
            : `window ${a.window} assignment test failed: ${e instanceof Error ? e.message : e}`,
        );
      } finally {
        letGo();
        this.#job = null;
        this.#running = -1;
        const next = this.#waiting;
        this.#waiting = null;
        if (next !== null && !job.drop) this.#start(next);
      }
    })();
    this.#job = job;
  }

  #save(): Promise<void> {
    const write = () =>
      this.#p.store.put(
        BOOK_FILE,
        new TextEncoder().encode(JSON.stringify({ ...this.#book.toJSON(), replay: this.#replay })),
      );
    const next = this.#saving.then(write, write);
    this.#saving = next.catch(() => {});
    return next;
  }
}

function isQuantized(t: CompressedTensor): t is QuantizedTensor {
  return t.table !== undefined;
}

function randomU32(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
