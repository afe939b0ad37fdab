/**
 * Small byte-level helpers over a libp2p 3 message stream: a bounded reader, unsigned varints,
 * chunked writes with back-pressure, deadlines that never keep the process alive after
 * they are cleared, and the small error and close helpers every protocol client needs.
 *
 * @module
 */

import type { MessageStream, Stream } from "@libp2p/interface";
import { NetError } from "./errors.ts";

/** Largest chunk handed to `stream.send` at once. */
export const WRITE_CHUNK_BYTES = 64 * 1024;

/** Encodes an unsigned LEB128 varint (n < 2^53). */
export function encodeUvarint(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bad varint value ${n}`);
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

/**
 * A deadline: `signal` aborts with a `timeout` NetError after `ms`, or when `parent` aborts
 * (with an `aborted` NetError). Call `clear()` when done; it removes the timer and listener.
 */
export interface Deadline {
  /** Aborts at the deadline or with the parent. */
  readonly signal: AbortSignal;
  /** Cancels the timer and detaches from the parent. */
  clear(): void;
}

/** Creates a {@linkcode Deadline} (`ms` ≤ 0 or infinite: no timer, only the parent). */
export function deadline(ms: number, what: string, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (Number.isFinite(ms) && ms > 0) {
    timer = setTimeout(() => {
      controller.abort(new NetError("timeout", `${what} timed out after ${ms} ms`));
    }, ms);
  }
  const onParent = () => {
    controller.abort(new NetError("aborted", `${what} aborted`, { cause: parent?.reason }));
  };
  if (parent?.aborted) onParent();
  else parent?.addEventListener("abort", onParent, { once: true });
  return {
    signal: controller.signal,
    clear() {
      if (timer !== undefined) clearTimeout(timer);
      parent?.removeEventListener("abort", onParent);
    },
  };
}

function abortReason(signal: AbortSignal): Error {
  const r = signal.reason;
  return r instanceof Error ? r : new NetError("aborted", "aborted");
}

/**
 * Reads bytes from a message stream as they arrive, holding at most `maxBuffered` unread bytes
 * (more, and the stream is aborted: a peer cannot make us buffer without bound). Attach it as
 * soon as the stream exists; call `dispose()` when done.
 */
export class StreamReader {
  readonly #stream: MessageStream;
  #maxBuffered: number;
  readonly #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  /** Starts listening to `stream` at once (data that arrived earlier is replayed by libp2p). */
  constructor(stream: MessageStream, options: { maxBuffered: number }) {
    this.#stream = stream;
    this.#maxBuffered = options.maxBuffered;
    stream.addEventListener("message", this.#onMessage);
    stream.addEventListener("remoteCloseWrite", this.#onEnd);
    stream.addEventListener("close", this.#onClose);
    if (stream.status !== "open") this.#ended = true;
  }

  /** Unread bytes held. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Whether the remote has finished sending (or the stream closed). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Stops listening to the stream. */
  dispose(): void {
    this.#stream.removeEventListener("message", this.#onMessage);
    this.#stream.removeEventListener("remoteCloseWrite", this.#onEnd);
    this.#stream.removeEventListener("close", this.#onClose);
    this.#notify();
  }

  /** The cap on unread bytes; may be raised once a body length is known. */
  get maxBuffered(): number {
    return this.#maxBuffered;
  }

  set maxBuffered(n: number) {
    this.#maxBuffered = n;
  }

  #onMessage = (evt: { data: Uint8Array | { subarray(): Uint8Array } }) => {
    const bytes = evt.data.subarray();
    if (bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.#buffered += bytes.length;
    if (this.#buffered > this.#maxBuffered) {
      this.#error ??= new NetError(
        "too_large",
        `peer sent more than ${this.#maxBuffered} unread bytes`,
      );
      this.#chunks.length = 0;
      this.#buffered = 0;
      this.#stream.abort(this.#error);
    }
    this.#notify();
  };

  #onEnd = () => {
    this.#ended = true;
    this.#notify();
  };

  #onClose = (evt: Event) => {
    this.#ended = true;
    const err = (evt as Event & { error?: Error }).error;
    if (err !== undefined) this.#error ??= err;
    this.#notify();
  };

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #waitForData(signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw abortReason(signal);
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#wake = undefined;
        reject(abortReason(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#wake = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
    });
  }

  /** Whether any bytes are buffered, waiting for some or for the end. */
  async #fill(signal: AbortSignal): Promise<boolean> {
    while (this.#buffered === 0) {
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return false;
      await this.#waitForData(signal);
    }
    return true;
  }

  /**
   * Exactly `n` bytes, copied into one array as they arrive. Throws a `protocol` NetError if
   * the stream ends first, the abort reason if `signal` fires.
   */
  async readExactly(n: number, signal: AbortSignal): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      if (!(await this.#fill(signal))) {
        throw new NetError("protocol", `stream ended after ${off} of ${n} bytes`);
      }
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length, n - off);
      out.set(chunk.subarray(0, take), off);
      off += take;
      this.#buffered -= take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    return out;
  }

  /** One byte, or `null` if the stream ended cleanly before it. */
  async readByteOrEnd(signal: AbortSignal): Promise<number | null> {
    if (!(await this.#fill(signal))) return null;
    return (await this.readExactly(1, signal))[0];
  }

  /**
   * An unsigned varint of at most `maxBytes` bytes (≤ 7, so the value stays below 2^49).
   * Throws a `protocol` NetError on an overlong varint or an early end.
   */
  async readUvarint(maxBytes: number, signal: AbortSignal): Promise<number> {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < maxBytes; i++) {
      const b = (await this.readExactly(1, signal))[0];
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw new NetError("protocol", "non-minimal varint");
        return value;
      }
      scale *= 0x80;
    }
    throw new NetError("protocol", `varint longer than ${maxBytes} bytes`);
  }

  /**
   * Waits until the remote ends its side. Returns whether it ended with no further bytes;
   * `false` on a timeout/abort of `signal` or if bytes arrived (they are discarded).
   */
  async waitEnd(signal: AbortSignal): Promise<boolean> {
    try {
      return !(await this.#fill(signal));
    } catch {
      return false;
    }
  }
}

/**
 * Sends `data` in chunks, waiting for the stream to drain when its buffer is full. Throws the
 * abort reason of `signal`, or the stream's error.
 */
export async function writeAll(
  stream: MessageStream,
  data: Uint8Array,
  signal: AbortSignal,
): Promise<void> {
  for (let off = 0; off < data.length; off += WRITE_CHUNK_BYTES) {
    if (signal.aborted) throw abortReason(signal);
    const chunk = data.subarray(off, Math.min(off + WRITE_CHUNK_BYTES, data.length));
    if (!stream.send(chunk)) {
      try {
        await stream.onDrain({ signal });
      } catch (err) {
        if (signal.aborted) throw abortReason(signal);
        throw err;
      }
    }
  }
}

/** The one-line message of anything thrown or rejected by libp2p. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  // libp2p sometimes rejects with the stream's close Event; its error says more.
  const inner = (err as { error?: unknown } | null)?.error;
  if (inner instanceof Error) return inner.message;
  return err instanceof Event ? `stream ${err.type}` : String(err);
}

/** Lets a finished stream close by itself; resets it if the remote holds it open. */
export function closeSoon(stream: Stream, graceMs = 2_000): void {
  if (stream.status !== "open") return;
  const timer = setTimeout(() => {
    if (stream.status === "open") {
      stream.abort(new NetError("timeout", "remote kept the stream open"));
    }
  }, graceMs);
  stream.addEventListener("close", () => clearTimeout(timer), { once: true });
}
