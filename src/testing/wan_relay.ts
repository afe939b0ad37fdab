/**
 * A userspace WAN emulator for tests where the kernel has no `netem` qdisc: a TCP relay that
 * forwards each accepted connection to a fixed target and shapes both directions like an
 * internet path — a one-way delay with seeded jitter per chunk, a bandwidth cap (a token bucket
 * per route and direction, shared by that route's connections), and "loss". TCP never loses
 * bytes above the kernel, so a lost segment is emulated by what the sender would see: with
 * probability `loss` a chunk is held for an extra retransmission timeout (`rtoMs`). Order within
 * a connection is kept (a chunk is never delivered before the one read before it).
 *
 * Nodes announce the relay's addresses instead of their own, so every connection that dials
 * a node passes through the relay. Run it as its own process in a namespace with
 * `wan_relay_main.ts`; {@linkcode WanRelay.start} is the library form.
 *
 * @module
 */

import { mixSeed, Rng } from "../util/rng.ts";

/** The conditions of every link through the relay. */
export interface WanConditions {
  /** Mean one-way delay (ms). */
  delayMs: number;
  /** Jitter: each chunk's delay is uniform in delayMs ± jitterMs. */
  jitterMs: number;
  /** Share of chunks held for an extra retransmission timeout, in [0, 1). */
  loss: number;
  /** Bandwidth per route and direction (Mbit/s). */
  mbit: number;
  /** The extra hold of a "lost" chunk (ms); TCP's minimum RTO is 200 ms. */
  rtoMs?: number;
  /** Seeds the jitter and loss draws (per connection and direction). */
  seed: number;
}

/** One forwarding: connections to `listen` go on to `target`. */
export interface WanRoute {
  listen: { hostname: string; port: number };
  target: { hostname: string; port: number };
}

/** What went through the relay. */
export interface WanRelayStats {
  connections: number;
  bytes: number;
  chunks: number;
  lostChunks: number;
}

/** Largest chunk shaped at once: keeps the bandwidth and jitter granular. */
const CHUNK = 16 * 1024;
/** The token bucket's burst (bytes). */
const BURST = 32 * 1024;

/** A token bucket: when the bytes handed to it may leave at `mbit` Mbit/s. */
class Bucket {
  #free = 0;
  readonly #bytesPerMs: number;
  constructor(mbit: number) {
    this.#bytesPerMs = (mbit * 1e6) / 8 / 1000;
  }
  /** The time `bytes` have left, counted from `now`. */
  send(now: number, bytes: number): number {
    const start = Math.max(this.#free, now - BURST / this.#bytesPerMs);
    this.#free = start + bytes / this.#bytesPerMs;
    return Math.max(now, this.#free);
  }
}

const sleepUntil = (t: number) => {
  const ms = t - performance.now();
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
};

/** A running relay; {@linkcode close} stops it and every connection through it. */
export class WanRelay {
  readonly stats: WanRelayStats = { connections: 0, bytes: 0, chunks: 0, lostChunks: 0 };
  readonly #listeners: Deno.TcpListener[] = [];
  readonly #conns = new Set<Deno.Conn>();
  readonly #conditions: WanConditions;

  private constructor(conditions: WanConditions) {
    this.#conditions = conditions;
  }

  /** Listens on every route's `listen` address and forwards with `conditions`. */
  static start(routes: readonly WanRoute[], conditions: WanConditions): WanRelay {
    const c = conditions;
    if (!(c.delayMs >= 0 && c.jitterMs >= 0 && c.jitterMs <= c.delayMs)) {
      throw new RangeError(`WanRelay: need 0 ≤ jitter ≤ delay, got ${c.delayMs} ± ${c.jitterMs}`);
    }
    if (!(c.loss >= 0 && c.loss < 1 && c.mbit > 0)) {
      throw new RangeError(`WanRelay: need loss in [0, 1) and mbit > 0`);
    }
    const relay = new WanRelay(conditions);
    routes.forEach((r, i) => relay.#serve(r, i));
    return relay;
  }

  #serve(route: WanRoute, index: number): void {
    const listener = Deno.listen({ transport: "tcp", ...route.listen });
    this.#listeners.push(listener);
    const up = new Bucket(this.#conditions.mbit), down = new Bucket(this.#conditions.mbit);
    (async () => {
      let n = 0;
      for await (const inbound of listener) {
        const id = n++;
        this.#track(inbound);
        this.stats.connections++;
        Deno.connect({ transport: "tcp", ...route.target }).then((outbound) => {
          this.#track(outbound);
          const seed = mixSeed(this.#conditions.seed, index, id);
          this.#pipe(inbound, outbound, up, new Rng(mixSeed(seed, 0)));
          this.#pipe(outbound, inbound, down, new Rng(mixSeed(seed, 1)));
        }, () => this.#drop(inbound));
      }
    })().catch(() => {/* closed */});
  }

  #track(conn: Deno.Conn): void {
    this.#conns.add(conn);
  }

  #drop(conn: Deno.Conn): void {
    if (this.#conns.delete(conn)) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  }

  /** Copies `from` to `to`, each chunk delivered at its shaped time; closes both at the end. */
  #pipe(from: Deno.Conn, to: Deno.Conn, bucket: Bucket, rng: Rng): void {
    const c = this.#conditions;
    const rto = c.rtoMs ?? 200;
    const queue: { at: number; bytes: Uint8Array | null }[] = [];
    let wake: (() => void) | null = null;
    const push = (at: number, bytes: Uint8Array | null) => {
      queue.push({ at, bytes });
      wake?.();
      wake = null;
    };
    (async () => {
      let last = 0;
      const buf = new Uint8Array(CHUNK);
      for (;;) {
        const n = await from.read(buf).catch(() => null);
        if (n === null) break;
        const now = performance.now();
        const lost = rng.uniform() < c.loss;
        const delay = c.delayMs + (2 * rng.uniform() - 1) * c.jitterMs + (lost ? rto : 0);
        last = Math.max(last, bucket.send(now, n) + delay);
        this.stats.bytes += n;
        this.stats.chunks++;
        if (lost) this.stats.lostChunks++;
        push(last, buf.slice(0, n));
      }
      push(last, null);
    })();
    (async () => {
      for (;;) {
        if (queue.length === 0) await new Promise<void>((r) => wake = r);
        const next = queue.shift()!;
        await sleepUntil(next.at);
        if (next.bytes === null) break;
        try {
          for (let off = 0; off < next.bytes.length;) {
            off += await to.write(next.bytes.subarray(off));
          }
        } catch {
          break;
        }
      }
      this.#drop(to);
      this.#drop(from);
    })();
  }

  /** Stops listening and closes every connection through the relay. */
  close(): void {
    for (const l of this.#listeners.splice(0)) {
      try {
        l.close();
      } catch { /* closed already */ }
    }
    for (const c of [...this.#conns]) this.#drop(c);
  }
}
