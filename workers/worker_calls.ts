/**
 * Requests to a module Worker, answered one at a time in the order they came: both sides of
 * the Worker trainer (workers/worker_trainer.ts ↔ window_worker.ts) and the Worker probe
 * (workers/probe_client.ts ↔ probe_worker.ts). Every request carries an id; the Worker answers
 * it with `done` or `failed`, and may post `progress` messages for it before (a window's steps).
 * A Worker that fails or is closed fails every request in flight and every later one with the
 * same error, so a caller never waits on a thread that is gone.
 *
 * @module
 */

/** Worker → caller: a request's answer, or a message on its way. */
export type WorkerReply<V, P = never> =
  | { id: number; type: "done"; value: V }
  | { id: number; type: "failed"; message: string }
  | { id: number; type: "progress"; progress: P };

/** Each member of a request union without its id (the caller numbers them). */
export type RequestBody<R> = R extends unknown ? Omit<R, "id"> : never;

/** The caller's side: `R` the requests, `V` what they answer, `P` their progress messages. */
export class WorkerCalls<R extends { id: number }, V, P = never> {
  readonly #worker: Worker;
  readonly #what: string;
  readonly #pending = new Map<number, {
    resolve: (v: V) => void;
    reject: (e: Error) => void;
    onProgress?: (p: P) => void;
  }>();
  #next = 0;
  #failure: Error | null = null;

  /** Starts the Worker at `url`; `what` names it in errors ("trainer worker"). */
  constructor(url: URL, what: string) {
    this.#what = what;
    this.#worker = new Worker(url.href, { type: "module" });
    this.#worker.onmessage = (ev: MessageEvent<WorkerReply<V, P>>) => this.#reply(ev.data);
    this.#worker.onerror = (ev) => {
      ev.preventDefault();
      this.#fail(new Error(`${what}: ${ev.message}`));
    };
  }

  /** Sends a request (its `transfer` buffers are moved, not copied) and waits for its answer. */
  call(
    body: RequestBody<R>,
    transfer: Transferable[] = [],
    onProgress?: (p: P) => void,
  ): Promise<V> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      this.#worker.postMessage({ ...body, id }, transfer);
    });
  }

  /** A request nobody awaits: its failure is kept and fails every later call. */
  keep(p: Promise<unknown>): void {
    p.catch((e: Error) => this.#failure ??= e);
  }

  /** Ends the Worker; what it was doing fails. */
  close(): void {
    this.#worker.terminate();
    this.#fail(new Error(`${this.#what} closed`));
  }

  #reply(m: WorkerReply<V, P>): void {
    const p = this.#pending.get(m.id);
    if (p === undefined) return;
    if (m.type === "progress") {
      p.onProgress?.(m.progress);
      return;
    }
    this.#pending.delete(m.id);
    if (m.type === "done") p.resolve(m.value);
    else p.reject(new Error(m.message));
  }

  #fail(e: Error): void {
    this.#failure ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }
}

/**
 * The Worker's side: answers each request with `handle`'s value (or its error), one at a time
 * in the order they came; `progress` posts a message for the request being handled.
 */
export function serveInOrder<R extends { id: number }, V, P = never>(
  handle: (m: R, progress: (p: P) => void) => Promise<V>,
): void {
  // The parts of DedicatedWorkerGlobalScope used here (the DOM lib types `self` as Window).
  const scope = self as unknown as {
    postMessage(message: WorkerReply<V, P>): void;
    onmessage: ((ev: MessageEvent<R>) => void) | null;
  };
  let queue: Promise<void> = Promise.resolve();
  scope.onmessage = (ev) => {
    const m = ev.data;
    const progress = (p: P) => scope.postMessage({ id: m.id, type: "progress", progress: p });
    queue = queue.then(() => handle(m, progress)).then(
      (value) => scope.postMessage({ id: m.id, type: "done", value }),
      (e) =>
        scope.postMessage({
          id: m.id,
          type: "failed",
          message: e instanceof Error ? e.message : String(e),
        }),
    );
  };
}
