/**
 * The validator's loss probe in a Worker (workers/probe_worker.ts): the forward passes of the
 * gauntlet (the loss test on the record's path, the assignment test behind it, the held-out
 * loss) run on another thread, so the validator's event loop keeps reading announcements,
 * serving fetches and publishing records while it scores. On the validator's own thread a CPU
 * forward pass blocks the loop for its whole length; on the shared 2-core machine it read
 * announcements made on time ~0.3–0.9 s late and skipped them (README "Round costs").
 *
 * The Worker runs the same {@linkcode ModelProbe} on the same float32 CPU backend (the same
 * matmul), so every loss is bit for bit the in-thread probe's (workers/probe_client_test.ts).
 * θ crosses once per distinct θ: an array is known by its identity, and the Worker keeps the
 * last {@linkcode PROBE_HELD} it was sent; the copy sent is transferred, not cloned again.
 * Hence the contract its callers already keep: an array passed once keeps its values (the
 * chain replaces its head instead of writing it, the gauntlet copies θ before it moves it).
 *
 * @module
 */
import type { Batch, LossProbe } from "../src/gauntlet/loss_check.ts";
import type { Genesis } from "../src/protocol/genesis.ts";
import { WorkerCalls } from "./worker_calls.ts";

/**
 * How many θ the Worker keeps: θ_w and an update's moved θ while a window is scored, the
 * chain's head for the held-out loss, and one more for an assignment test still running.
 */
export const PROBE_HELD = 4;

/** Validator → worker. Every request has an id; the worker answers them in order. */
export type ProbeRequest =
  | { id: number; type: "init"; genesis: Genesis; wasm: boolean }
  | {
    id: number;
    type: "loss" | "sequence-losses";
    /** Which θ: one the worker holds, or the one sent with this request. */
    version: number;
    theta?: Float32Array;
    batches: readonly Batch[];
  };

/** What a request answers: a loss, the losses of each sequence, or nothing ("init"). */
export type ProbeValue = number | number[] | null;

/** A {@linkcode LossProbe} whose model lives in a Worker. `close()` ends it. */
export class WorkerProbe implements LossProbe {
  readonly #calls: WorkerCalls<ProbeRequest, ProbeValue>;
  /** The version each θ was sent as. */
  readonly #versions = new WeakMap<Float32Array, number>();
  /** The versions the worker holds, oldest first (it evicts as this does). */
  readonly #held: number[] = [];
  #version = 0;
  #sent = 0;

  /** Starts the Worker with the run's model; `opsName` names the CPU backend ("cpu-wasm" or "cpu-reference"). */
  constructor(genesis: Genesis, opsName: string) {
    if (!opsName.startsWith("cpu") || opsName.endsWith("-f64")) {
      throw new Error(`a Worker probe runs the float32 CPU backend, not ${opsName}`);
    }
    this.#calls = new WorkerCalls(new URL("./probe_worker.ts", import.meta.url), "probe worker");
    this.#calls.keep(
      this.#calls.call({ type: "init", genesis, wasm: opsName.startsWith("cpu-wasm") }),
    );
  }

  /** How many θ were sent to the Worker so far (each distinct θ once while it is held). */
  get thetasSent(): number {
    return this.#sent;
  }

  loss(params: Float32Array, batches: readonly Batch[]): Promise<number> {
    if (batches.length === 0) return Promise.reject(new RangeError("WorkerProbe.loss: no batches"));
    return this.#measure("loss", params, batches) as Promise<number>;
  }

  sequenceLosses(params: Float32Array, batches: readonly Batch[]): Promise<number[]> {
    return this.#measure("sequence-losses", params, batches) as Promise<number[]>;
  }

  /** Ends the Worker; what it was doing fails. */
  close(): void {
    this.#calls.close();
  }

  #measure(
    type: "loss" | "sequence-losses",
    params: Float32Array,
    batches: readonly Batch[],
  ): Promise<ProbeValue> {
    const sent = ownedBatches(batches);
    const transfer = sent.flatMap((b) => [b.inputs.buffer, b.targets.buffer]);
    let version = this.#versions.get(params);
    if (version !== undefined && this.#held.includes(version)) {
      return this.#calls.call({ type, version, batches: sent }, transfer);
    }
    version = this.#version++;
    this.#versions.set(params, version);
    this.#held.push(version);
    if (this.#held.length > PROBE_HELD) this.#held.shift();
    const theta = params.slice();
    this.#sent++;
    return this.#calls.call({ type, version, theta, batches: sent }, [theta.buffer, ...transfer]);
  }
}

/**
 * Copies of the batches, each on a buffer of its own: a batch is often a view into a whole
 * token buffer (the held-out split), and posting a view clones its entire buffer (a 200 MB
 * buffer took 473 ms on the sending thread); the copies are transferred instead.
 */
export function ownedBatches(batches: readonly Batch[]): Batch[] {
  return batches.map((b) => ({ inputs: b.inputs.slice(), targets: b.targets.slice() }));
}
