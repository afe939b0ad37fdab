/**
 * Hostile peers for the attack tests and `deno task attack` (GAUNTLET.md "Attacks it must
 * stop"), built from the project's own parts: a real key, a real node, messages well-formed
 * on the wire, malice only in the content. Two families:
 *
 * - {@linkcode HostileTrainer}: a real {@linkcode Peer} whose trainer corrupts what it sends
 *   (scaled ×100, sign-flipped, trained on another peer's data, an older window's update).
 * - {@linkcode Parasite}: no training at all; it waits for an honest peer's announcement of the
 *   window, fetches that payload and derives its own from it (a copy, a re-noised or flipped
 *   copy, garbage at 100× the victim's norm, zeros, near-zeros, two different updates,
 *   undecodable bytes, an oversized announcement, a flood of valid announcements, or an
 *   announcement whose payload it never serves).
 *
 * @module
 */

import type { Ops } from "../backend/ops.ts";
import type { Sampler } from "../data/sampler.ts";
import {
  decodeUpdate,
  DEFAULT_MAX_UPDATE_BYTES,
  encodeUpdate,
  type UpdateTensor,
} from "../codec/update_codec.ts";
import type { QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { compressModel } from "../reference/sparseloco/compress_model.ts";
import { tensorNorms } from "../gauntlet/loss_check.ts";
import { hashBytes } from "../net/payload_store.ts";
import { PAYLOAD_PROTOCOL } from "../net/protocols.ts";
import { type RunContext, updateLimits } from "../protocol/run_context.ts";
import type { RoleNode } from "../roles/role_node.ts";
import { WindowTrainer } from "../roles/window_trainer.ts";
import { hex } from "../util/hex.ts";
import { sha256Sync } from "../util/hash.ts";
import { Rng } from "../util/rng.ts";

/** Attacks a {@linkcode HostileTrainer} runs (it trains, then corrupts). */
export const TRAINING_ATTACKS = ["scaled", "flipped", "other-data", "stale"] as const;

/** Attacks a {@linkcode Parasite} runs (it derives from a victim's payload). */
export const PARASITE_ATTACKS = [
  "garbage",
  "zeros",
  "tiny",
  "copy",
  "noised-copy",
  "flipped-copy",
  "equivocate",
  "malformed",
  "oversized",
  "flood",
  "stall",
] as const;

/** Every attack kind. */
export type AttackKind = typeof TRAINING_ATTACKS[number] | typeof PARASITE_ATTACKS[number];

/** True when `kind` names an attack. */
export function isAttackKind(kind: string): kind is AttackKind {
  return (TRAINING_ATTACKS as readonly string[]).includes(kind) ||
    (PARASITE_ATTACKS as readonly string[]).includes(kind);
}

/** Factor of the scaled and garbage attacks (GAUNTLET.md: ×100 norm). */
export const ATTACK_SCALE = 100;

/** Valid announcements a second of the flood attack. */
export const FLOOD_PER_SECOND = 200;

/** `t` with its decode table multiplied by `f` (every decoded value scales by f). */
function scaleTable(t: QuantizedTensor, f: number): QuantizedTensor {
  return { ...t, table: t.table.map((x) => x * f) };
}

/**
 * The "noised-copy" attack's payload: the victim's indices, its values re-noised (each code
 * redrawn at random with probability 0.3, the decode table scaled by 1.05). Exported for the
 * copy check's tests and bench/copy_likeness.ts.
 */
export function renoisedCopy(victim: readonly QuantizedTensor[], rng: Rng): QuantizedTensor[] {
  return victim.map((t) => {
    const codes = t.codes.slice();
    for (let i = 0; i < codes.length; i++) {
      if (rng.uniform() < 0.3) codes[i] = rng.int(4);
    }
    return { ...scaleTable(t, 1.05), codes };
  });
}

/**
 * A trainer that trains honestly (or on another peer's stream: "other-data") and then corrupts
 * the compressed update it hands to its {@linkcode Peer}: ×100 ("scaled"), negated
 * ("flipped"), or last window's instead of this one's ("stale"; zeros in its first window).
 */
export class HostileTrainer<T> extends WindowTrainer<T> {
  readonly #kind: typeof TRAINING_ATTACKS[number];
  #previous: QuantizedTensor[] | null = null;

  constructor(
    kind: typeof TRAINING_ATTACKS[number],
    ctx: RunContext,
    ops: Ops<T>,
    sampler: Sampler,
    peer: number,
  ) {
    // Another stream than assigned: the next index (assigned to nobody we know).
    super(ctx, ops, sampler, kind === "other-data" ? (peer + 1) >>> 0 : peer);
    this.#kind = kind;
  }

  override async compress(): Promise<QuantizedTensor[]> {
    const honest = await super.compress();
    switch (this.#kind) {
      case "scaled":
        return honest.map((t) => scaleTable(t, ATTACK_SCALE));
      case "flipped":
        return honest.map((t) => scaleTable(t, -1));
      case "other-data":
        return honest;
      case "stale": {
        const old = this.#previous ?? honest.map((t) => scaleTable(t, 0));
        this.#previous = honest;
        return old;
      }
    }
  }
}

/** An update announcement's fields. */
interface Announced {
  window: number;
  modelHash: Uint8Array;
  payloadHash: Uint8Array;
  size: number;
}

/** A peer that never trains: it derives its payloads from a victim's. */
export class Parasite {
  readonly #net: RoleNode;
  readonly #kind: typeof PARASITE_ATTACKS[number];
  readonly #victims: ReadonlySet<string>;
  readonly #done = new Set<number>();
  readonly #rng = new Rng(crypto.getRandomValues(new Uint32Array(1))[0]);
  #stopped = false;

  /** Victims: the addresses whose updates it derives from (empty: anyone else's). */
  constructor(net: RoleNode, kind: typeof PARASITE_ATTACKS[number], victims: readonly string[]) {
    this.#net = net;
    this.#kind = kind;
    this.#victims = new Set(victims);
  }

  /** Subscribes and waits for victims' announcements. */
  async start(): Promise<void> {
    const net = this.#net;
    if (this.#kind === "stall") {
      // Accept payload requests and never answer them: the requester waits for its timeout.
      await net.node.libp2p.unhandle(PAYLOAD_PROTOCOL);
      await net.node.libp2p.handle(PAYLOAD_PROTOCOL, () => {});
    }
    net.start();
    net.subscribe(net.node.topics.updates, (m, _bytes, from) => {
      if (m.body.kind !== "update-announce" || m.sender === net.signer.address) return;
      if (this.#victims.size > 0 && !this.#victims.has(m.sender)) return;
      const w = m.body.window;
      if (this.#done.has(w) || w !== net.ctx.clock.windowAt(Date.now())) return;
      this.#done.add(w);
      void this.#attack(m.body, from).catch((e) =>
        net.log(`attack ${this.#kind} in window ${w} failed: ${(e as Error).message}`)
      );
    });
  }

  /** Stops announcing. */
  stop(): void {
    this.#stopped = true;
    this.#net.stop();
  }

  async #attack(a: Announced, from: string): Promise<void> {
    const net = this.#net, ctx = net.ctx;
    const victimBytes = await net.fetchPayload(hex(a.payloadHash), [from]);
    const victim = decodeUpdate(victimBytes, updateLimits(ctx, a.window, a.modelHash));
    const payloads = this.#derive(a, victimBytes, victim.tensors);
    const bodies = [];
    for (const p of payloads) {
      // A staller announces what it never serves: nothing is stored.
      const payloadHash = this.#kind === "stall"
        ? sha256Sync(p)
        : hashBytes(await net.node.store.add(p, { pin: true }));
      bodies.push({
        kind: "update-announce" as const,
        window: a.window,
        modelHash: a.modelHash,
        payloadHash,
        size: this.#kind === "oversized" ? DEFAULT_MAX_UPDATE_BYTES + 1 : p.length,
      });
    }
    net.log(`attack ${this.#kind} in window ${a.window} on ${hex(a.payloadHash).slice(0, 12)}`);
    const end = ctx.clock.windowEnd(a.window) + (this.#kind === "flood" ? 0 : ctx.graceMs);
    const pause = this.#kind === "flood" ? 1000 / FLOOD_PER_SECOND : 1500;
    for (let i = 0; !this.#stopped && Date.now() < end; i++) {
      await net.publish(net.node.topics.updates, bodies[i % bodies.length]);
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  /** The payloads to announce (two for equivocation). */
  #derive(a: Announced, victimBytes: Uint8Array, victim: readonly UpdateTensor[]): Uint8Array[] {
    const ctx = this.#net.ctx;
    const encode = (tensors: readonly QuantizedTensor[]) =>
      encodeUpdate({
        indexMode: ctx.indexMode,
        runId: ctx.runId,
        window: a.window,
        modelHash: a.modelHash,
        tensors: tensors.map((t, id) => ({ ...t, id })),
      });
    const norms = tensorNorms(victim);
    /** A random direction with the victim's tiling, at `factor` × the victim's norm per tensor. */
    const random = (factor: number) => {
      const delta = this.#rng.normals(ctx.layout.length);
      const ts = compressModel(
        delta,
        new Float32Array(delta.length),
        ctx.tensors,
        ctx.compress,
      ) as QuantizedTensor[];
      const own = tensorNorms(ts);
      return ts.map((t, i) => scaleTable(t, own[i] > 0 ? factor * norms[i] / own[i] : 0));
    };
    switch (this.#kind) {
      case "garbage":
        return [encode(random(ATTACK_SCALE))];
      case "zeros":
        return [encode(random(0))];
      case "tiny":
        return [encode(random(1e-4))];
      case "copy":
        return [victimBytes];
      case "noised-copy":
        return [encode(renoisedCopy(victim, this.#rng))];
      case "flipped-copy":
        return [encode(victim.map((t) => scaleTable(t, -1)))];
      case "equivocate":
        return [encode(random(1)), encode(random(1))];
      case "malformed":
        return [Uint8Array.from(victimBytes, () => this.#rng.int(256))];
      case "flood":
        return [encode(random(0))];
      case "oversized":
      case "stall":
        return [encode(random(1))];
    }
  }
}
