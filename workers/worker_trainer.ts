/**
 * A peer's inner loop in a Worker (workers/window_worker.ts): the Worker owns the model, the
 * AdamW moments and the error feedback of a `WindowTrainer` on the CPU backend, so the
 * peer's thread stays free while it trains. A CPU step never yields, and on a loaded machine one
 * takes seconds: on the peer's own thread every payload request, gossip heartbeat and ping
 * waited for the gap between two steps, and in the overlapped mode (outer delay 1) the
 * validator's fetch of the last update missed its deadline (README "Round costs").
 *
 * The Worker runs the same code on the same inputs (θ, window, batches, learning rate), so the
 * update and the model hash are bit for bit those of the trainer on the peer's thread
 * (`workers/worker_trainer_test.ts`). Its clock is the Worker's `Date.now`; it needs no yields
 * between steps (`responsiveUntil` is the thread-bound trainer's concern).
 *
 * @module
 */
import type { Sampler } from "../src/data/sampler.ts";
import type { Genesis } from "../src/protocol/genesis.ts";
import type { QuantizedTensor } from "../src/reference/sparseloco/compress.ts";
import type { RunContext } from "../src/protocol/run_context.ts";
import type {
  InnerLoop,
  StepInfo,
  TrainerOptions,
  WindowResult,
} from "../src/roles/window_trainer.ts";
import { WorkerCalls } from "./worker_calls.ts";

/** Peer → worker. Every request has an id; the worker answers them in order. */
export type WindowRequest =
  | {
    id: number;
    type: "init";
    genesis: Genesis;
    tokens: Uint32Array;
    peer: number;
    /** The CPU backend's matmul: WebAssembly SIMD or the TypeScript reference (same bits). */
    wasm: boolean;
    /** The operator's trainer options (`--recompute`). */
    options: TrainerOptions;
    /** The shortest time between two step messages of a window (ms); absent: the default. */
    stepReportMs?: number;
  }
  | { id: number; type: "train"; theta: Float32Array; w: number; deadline: number }
  | { id: number; type: "load-error"; error: Float32Array }
  | { id: number; type: "read-error" };

/** What a request answers: a window ("train"), the error feedback ("read-error"), or nothing. */
export type WindowValue = Trained | Float32Array | null;

/** A window's answer: what it trained and, when it took steps, its compression. */
export interface Trained {
  result: WindowResult;
  compressed: { tensors: QuantizedTensor[]; error: Float32Array } | null;
}

/** An inner loop whose `WindowTrainer` lives in a Worker. `close()` ends it. */
export class WorkerTrainer implements InnerLoop {
  readonly errorOnDevice = false;
  /** Requests to the Worker; a "train" request's progress messages are its steps. */
  readonly #calls: WorkerCalls<WindowRequest, WindowValue, StepInfo>;
  /** The last window's compressed Δ, until {@link compress} takes it. */
  #compressed: QuantizedTensor[] | null = null;
  /** The error feedback after the last compression, until it is replaced. */
  #error: Float32Array | null = null;

  /**
   * Starts the Worker with the run, the sampler's tokens (it draws the same batches) and the
   * data stream `peer`; `opsName` names the CPU backend it opens ("cpu-wasm" or "cpu-reference").
   * `stepReportMs` overrides the step messages' throttle (a test checks it).
   */
  constructor(
    ctx: RunContext,
    opsName: string,
    sampler: Sampler,
    peer: number,
    { stepReportMs, ...options }: TrainerOptions & { stepReportMs?: number } = {},
  ) {
    if (!opsName.startsWith("cpu") || opsName.endsWith("-f64")) {
      throw new Error(`a Worker trainer runs the float32 CPU backend, not ${opsName}`);
    }
    this.#calls = new WorkerCalls(new URL("./window_worker.ts", import.meta.url), "trainer worker");
    this.#calls.keep(this.#calls.call({
      type: "init",
      genesis: ctx.genesis,
      tokens: sampler.tokens,
      peer,
      wasm: opsName.startsWith("cpu-wasm"),
      options,
      stepReportMs,
    }));
  }

  async train(
    theta: Float32Array,
    w: number,
    deadline: number,
    onStep: (s: StepInfo) => void = () => {},
  ): Promise<WindowResult> {
    const t = await this.#calls.call({ type: "train", theta, w, deadline }, [], onStep) as Trained;
    this.#compressed = t.compressed?.tensors ?? null;
    if (t.compressed !== null) this.#error = t.compressed.error;
    return t.result;
  }

  /** The last window's compression: the worker compressed as soon as its steps were done. */
  compress(): Promise<QuantizedTensor[]> {
    const c = this.#compressed;
    this.#compressed = null;
    if (c === null) return Promise.reject(new Error("no window with steps to compress"));
    return Promise.resolve(c);
  }

  loadError(error: Float32Array): void {
    this.#error = null;
    this.#calls.keep(this.#calls.call({ type: "load-error", error }));
  }

  /** The copy that came with the last compression (one message fewer), else the worker's. */
  readError(): Promise<Float32Array> {
    if (this.#error !== null) return Promise.resolve(this.#error.slice());
    return this.#calls.call({ type: "read-error" }) as Promise<Float32Array>;
  }

  /** Ends the Worker; what it was doing fails. */
  close(): void {
    this.#calls.close();
  }
}
