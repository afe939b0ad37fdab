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
 * left out from record w + 1 on. One still running at window w + 1's deadline is dropped at its
 * next forward pass (a log line says so) and that window's z values are lost: no record waits
 * on it. A restart forgets the job in flight, as it forgets the previous window's updates.
 *
 * @module
 */

import type { Sampler } from "../data/sampler.ts";
import {
  type JudgeContext,
  type Judgement,
  judgeWindow,
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

/** The book's name in the validator's store. */
export const BOOK_FILE = "gauntlet.json";

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
  /** The last judged window's decoded updates (memory only: a restart forgets one window). */
  #previous: NonNullable<JudgeContext["previous"]> = [];
  /** The assignment test in flight: `drop` stops it at its next forward pass. */
  #job: { drop: boolean; done: Promise<void> } | null = null;
  /** Book writes, one after the other (each writes the book as it is when its turn comes). */
  #saving: Promise<void> = Promise.resolve();

  private constructor(p: ScorerParts, spec: GauntletSpec, book: PeerBook) {
    this.#p = p;
    this.spec = spec;
    this.#book = book;
  }

  /** Loads the book (a damaged one is quarantined and scoring starts afresh, with a log line). */
  static async open(p: ScorerParts): Promise<Scorer> {
    const spec = gauntletOf(p.ctx.genesis);
    const bytes = await p.store.get(BOOK_FILE);
    let book = new PeerBook(spec);
    if (bytes !== null) {
      try {
        book = PeerBook.fromJSON(spec, JSON.parse(new TextDecoder().decode(bytes)));
      } catch (e) {
        const moved = await p.store.quarantine(BOOK_FILE);
        p.log(`${p.store.where}/${BOOK_FILE}: ${(e as Error).message}; kept as ${moved}, scoring afresh`);
      }
    }
    return new Scorer(p, spec, book);
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
   * after) and saves the book; drops the previous window's assignment test if it still runs,
   * and starts window `w`'s.
   */
  async judge(w: number, theta: Float32Array, submissions: readonly Submission[]): Promise<Judgement> {
    await this.stop();
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
    const j = await judgeWindow(w, submissions, this.#book, this.spec, {
      theta,
      layout: ctx.tensors,
      alpha: ctx.genesis.sparseloco.alpha,
      cap: ctx.genesis.maxContributors,
      probe,
      assigned: (a) => batchesOf(a).assigned,
      unassigned,
      seed: ctx.genesis.data.seed,
      previous: this.#previous,
      ownerOf: this.#p.ownerOf,
    });
    this.#previous = submissions.filter((s) => s.tensors !== undefined)
      .map((s) => ({ address: s.address, tensors: s.tensors! }));
    await this.#save();
    if (j.assignment.tested >= 2) this.#start(j.assignment);
    return j;
  }

  /** Drops the assignment test in flight, if any, and waits until it has let go of the probe. */
  async stop(): Promise<void> {
    const job = this.#job;
    if (job === null) return;
    job.drop = true;
    await job.done;
  }

  #start(a: Judgement["assignment"]): void {
    const job = { drop: false, done: Promise.resolve() };
    const DROPPED = new Error("dropped");
    const t0 = performance.now();
    job.done = (async () => {
      try {
        const zs = await a.run(async () => {
          // A macrotask, so the validator's clock and network go on between forward passes.
          await new Promise((r) => setTimeout(r, 0));
          if (job.drop) throw DROPPED;
        });
        this.#book.assigned(a.window, zs);
        await this.#save();
        this.#p.log(
          `window ${a.window} assignment test: ${a.tested} updates, ` +
            `${((performance.now() - t0) / a.tested).toFixed(0)} ms each`,
        );
      } catch (e) {
        this.#p.log(
          e === DROPPED
            ? `window ${a.window} assignment test dropped: not done by the next deadline ` +
              `(${(performance.now() - t0).toFixed(0)} ms)`
            : `window ${a.window} assignment test failed: ${e instanceof Error ? e.message : e}`,
        );
      } finally {
        if (this.#job === job) this.#job = null;
      }
    })();
    this.#job = job;
  }

  #save(): Promise<void> {
    const write = () => this.#p.store.put(BOOK_FILE, new TextEncoder().encode(JSON.stringify(this.#book)));
    const next = this.#saving.then(write, write);
    this.#saving = next.catch(() => {});
    return next;
  }
}

function randomU32(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
