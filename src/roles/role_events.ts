/**
 * What roles report while they run: a status snapshot for the live view, and events the
 * swarm, the tests and the round benchmark read (one JSON object per line on stdout with
 * `--json`).
 *
 * @module
 */

/** A role's state right now. */
export interface RoleStatus {
  /** "status". */
  event: "status";
  /** Which role. */
  role: "peer" | "validator";
  /** The role's SS58 address. */
  address: string;
  /** The window open now. */
  window: number;
  /** What it is doing. */
  phase: string;
  /** Inner step within the window (peers). */
  step: number;
  /** Most inner steps per window (H). */
  of: number;
  /** Mean training loss of the last window trained (peers), null before. */
  loss: number | null;
  /** Window of the last round record applied (−1: none). */
  applied: number;
  /** Held-out loss the last round record carries (the validator's measurement), null: none. */
  validLoss: number | null;
  /** First 12 hex digits of the model hash. */
  modelHash: string;
  /** Payload bytes published / fetched so far. */
  bytesUp: number;
  bytesDown: number;
  /** Contributors of the last round record. */
  contributors: number;
  /** Connected libp2p peers. */
  connections: number;
  /**
   * A peer's standing in the last round record: its final score and the validator's verdict
   * ("selected", or why it was left out); null before the first record that judged it.
   */
  standing: { score: number; verdict: string } | null;
  /**
   * A peer's wallet (its own key when not delegated) and its share of all the credit in the
   * round records it holds, recomputed from those records alone (src/protocol/credit.ts
   * `runCredit`); null before a record that hands out any.
   */
  credit: { wallet: string; share: number; records: number } | null;
}

/** One finished round as a peer saw it. */
export interface RoundEvent {
  /** "round". */
  event: "round";
  /** The peer's address. */
  address: string;
  /** The window trained. */
  window: number;
  /** Inner steps taken. */
  steps: number;
  /** Mean training loss of the window. */
  loss: number;
  /** Time in inner steps (ms). */
  computeMs: number;
  /** From the end of this window's training to the start of the next: compress, announce, wait for the record, fetch, aggregate (ms). */
  idleMs: number;
  /** Of the idle time: in the inner loop between steps (loading θ, yields, messages; ms). */
  gapMs?: number;
  /** Of the idle time: compressing, reading the error feedback and encoding the update (ms). */
  compressMs?: number;
  /** Of the idle time: fetching the record's payloads, aggregating, checking and saving (ms). */
  applyMs: number;
  /** Bytes of this peer's update. */
  bytesUp: number;
  /** Payload bytes fetched for the record. */
  bytesDown: number;
}

/** A round record applied (peers) or published (validator). */
export interface AppliedEvent {
  /** "applied". */
  event: "applied";
  /** Who. */
  role: "peer" | "validator";
  /** Its address. */
  address: string;
  /** The record's window. */
  window: number;
  /** Full hex hash of the model after it. */
  modelHash: string;
  /** Contributors of the record. */
  contributors: number;
  /** Their addresses. */
  selected: string[];
}

/** A joining or restarting peer is up to date. */
export interface CaughtUpEvent {
  /** "caught-up". */
  event: "caught-up";
  /** The peer's address. */
  address: string;
  /** Records applied to get there. */
  records: number;
  /** How long catching up took (ms). */
  ms: number;
  /** The window of the last record applied. */
  applied: number;
}

/** Something worth a line in the log. */
export interface LogEvent {
  /** "log". */
  event: "log";
  /** Who. */
  address: string;
  /** The line. */
  line: string;
}

/** Any event. */
export type RoleEvent = RoleStatus | RoundEvent | AppliedEvent | CaughtUpEvent | LogEvent;

/** Where a role sends its events. */
export type EventSink = (e: RoleEvent) => void;

/**
 * A role's status row: starts from the chain head, emits the whole row on every change, and
 * log lines as events.
 */
export class StatusReporter {
  #status: RoleStatus;
  readonly #emit: EventSink;
  readonly #traffic: { down: number };

  constructor(
    role: RoleStatus["role"],
    address: string,
    head: { applied: number; modelHash: string; of: number },
    traffic: { down: number },
    emit: EventSink,
  ) {
    this.#emit = emit;
    this.#traffic = traffic;
    this.#status = {
      event: "status",
      role,
      address,
      window: -1,
      phase: "starting",
      step: 0,
      of: head.of,
      loss: null,
      applied: head.applied,
      validLoss: null,
      modelHash: head.modelHash.slice(0, 12),
      bytesUp: 0,
      bytesDown: 0,
      contributors: 0,
      connections: 0,
      standing: null,
      credit: null,
    };
  }

  /** The current row. */
  get status(): RoleStatus {
    return this.#status;
  }

  /** Changes fields of the row and emits it. */
  set(patch: Partial<RoleStatus>): void {
    this.#status = { ...this.#status, ...patch, bytesDown: this.#traffic.down };
    this.#emit(this.#status);
  }

  /** Emits a log line. */
  log(line: string): void {
    this.#emit({ event: "log", address: this.#status.address, line });
  }
}

/** Resolves after `ms`, or as soon as `wake` is called (whichever is first). */
export class Waker {
  #resolve: (() => void) | null = null;

  /** Sleeps up to `ms`. */
  sleep(ms: number): Promise<void> {
    this.#resolve?.();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.#resolve === done) this.#resolve = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#resolve = done;
    });
  }

  /** Ends the current sleep. */
  wake(): void {
    this.#resolve?.();
  }
}
