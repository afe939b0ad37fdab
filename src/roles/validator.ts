/**
 * The validator role: it fetches and checks every announced update (signature, window, model
 * hash, decoding against the run's shapes, tiles and k), and at the window's deadline scores
 * every update that arrived in time (the gauntlet, GAUNTLET.md, through its {@linkcode Scorer}):
 * only updates that pass their loss check, from peers not banned or left out, enter the
 * aggregate, best rated first, up to the genesis cap. It computes θ_{w+1} and publishes a
 * signed round record that carries every judged peer's scores and verdict. A payload that has
 * not arrived by the deadline counts as missing: no record waits on one peer. Two different
 * signed updates from one key for one window are equivocation: the key is banned and the
 * evidence logged. Every `checkpointInterval` windows it saves a safetensors checkpoint and
 * serves it by hash; it keeps the payloads since the newest checkpoint so joiners can replay.
 *
 * @module
 */

import { hashBytes } from "../net/payload_store.ts";
import { hex } from "../util/hex.ts";
import { encodeCheckpoint } from "../codec/checkpoint.ts";
import { MAX_SCORED, type RoundRecord, type ScoredPeer, type VerdictCode } from "../codec/messages.ts";
import type { Submission } from "../gauntlet/gauntlet.ts";
import type { Batch, LossProbe } from "../gauntlet/loss_check.ts";
import type { Scorer } from "./scorer.ts";
import type { ModelChain } from "../protocol/model_chain.ts";
import type { RoleNode } from "./role_node.ts";
import { verifyRecord } from "../protocol/record_log.ts";
import { type EventSink, StatusReporter, Waker } from "./role_events.ts";
import type { RoleState } from "./role_state.ts";
import type { StateStore } from "../protocol/state_store.ts";

/** What a validator is made of. */
export interface ValidatorComponents {
  /** Network side (node, signer, records). */
  net: RoleNode;
  /** The model head. */
  chain: ModelChain;
  /** Where θ is saved after every round. */
  state: RoleState;
  /** Where checkpoints (`checkpoints/`) and the payloads kept for joiners (`payloads/`) go. */
  store: StateStore;
  /** Scores every update of a window and keeps the peer book. */
  scorer: Scorer;
  /** Status and events. */
  emit: EventSink;
  /** Held-out batches whose loss under θ_w goes into record w (absent: none measured). */
  heldOut?: { probe: LossProbe; batches: readonly Batch[] };
}

interface Candidate {
  address: string;
  payloadHash: string;
  from: string;
  arrival: number;
  /** Settles with the checked bytes and their tensors (decoded once), or why it was refused. */
  checked: Promise<{ bytes: Uint8Array; tensors: Submission["tensors"] } | { problem: string }>;
  /** Set when the key announced a second, different update for the window. */
  equivocated: boolean;
}

/** A validator. `start()`, then `stop()`. */
export class Validator {
  readonly #c: ValidatorComponents;
  readonly #waker = new Waker();
  readonly #candidates = new Map<number, Map<string, Candidate>>();
  /** Keys and windows whose late announcement was logged already. */
  readonly #lateLogged = new Set<string>();
  #running: Promise<void> | null = null;
  #stopped = false;
  readonly #report: StatusReporter;
  /** Payload hashes the records since the newest checkpoint select (kept for joiners). */
  #kept: { window: number; hash: string }[] = [];
  readonly #checkpoints: StateStore;
  readonly #payloads: StateStore;

  constructor(c: ValidatorComponents) {
    this.#c = c;
    this.#checkpoints = c.store.sub("checkpoints");
    this.#payloads = c.store.sub("payloads");
    // Outer delay 1: the base of a window's updates is named by the previous record.
    c.chain.recordBase = (w) => c.net.records.get(w)?.record.modelHash;
    this.#report = new StatusReporter(
      "validator",
      c.net.signer.address,
      {
        applied: c.chain.applied,
        modelHash: c.chain.hashHex,
        of: 0,
      },
      c.net.traffic,
      c.emit,
    );
  }

  /** Restores served checkpoints and payloads, subscribes, and starts the round loop. */
  async start(): Promise<void> {
    const { net } = this.#c;
    await this.#restore();
    // A crash between keeping a record and saving the model leaves the record ahead of the
    // state: replay it from the kept payloads.
    await net.applyKnown(this.#c.chain, () => Promise.resolve());
    net.start();
    net.subscribe(net.node.topics.updates, (m, _bytes, from) => {
      if (m.body.kind === "update-announce") this.#onAnnounce(m.sender, m.body, from);
    });
    // Subscribed to relay records (its own and other validators') and to refuse forged ones.
    net.subscribe(net.node.topics.rounds, () => {});
    this.#running = this.#run().catch((e) => {
      this.#report.log(`validator loop stopped: ${e instanceof Error ? e.stack ?? e.message : e}`);
    });
  }

  /** Stops after the current step. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#waker.wake();
    await this.#running;
    await this.#c.scorer.stop();
    this.#c.net.stop();
  }

  #onAnnounce(
    address: string,
    a: { window: number; modelHash: Uint8Array; payloadHash: Uint8Array; size: number },
    from: string,
  ): void {
    const { net, chain } = this.#c;
    const now = Date.now();
    const deadline = net.ctx.clock.windowEnd(a.window) + net.ctx.graceMs;
    const payloadHash = hex(a.payloadHash);
    const seen = this.#candidates.get(a.window)?.get(address);
    if (seen !== undefined) {
      // Repeats of an announcement: the first counts. A different one is evidence, also after
      // the deadline or the record (relayed late through the mesh): a window's candidates are
      // kept through the next window.
      if (seen.payloadHash !== payloadHash && !seen.equivocated) {
        seen.equivocated = true;
        void this.#c.scorer.equivocated({
          address,
          window: a.window,
          payloads: [seen.payloadHash, payloadHash],
        }).catch((e) => this.#report.log(`saving equivocation evidence failed: ${e}`));
      }
      return;
    }
    if (now > deadline || a.window <= chain.applied) {
      // One line per key and window: honest peers repeat their announcement until the grace
      // ends, and a flood must not turn into a flood of lines.
      const key = `${address} ${a.window}`;
      if (now > deadline && a.window > chain.applied - 2 && !this.#lateLogged.has(key)) {
        this.#lateLogged.add(key);
        if (this.#lateLogged.size > 10_000) this.#lateLogged.clear();
        this.#report.log(
          `update of ${short(address)} for window ${a.window} came ${
            now - deadline
          } ms after the deadline; ignored`,
        );
      }
      return;
    }
    let byAddress = this.#candidates.get(a.window);
    if (byAddress === undefined) this.#candidates.set(a.window, byAddress = new Map());
    if (this.#c.scorer.banned(address, a.window)) return;
    const base = chain.baseHash(a.window);
    const checked = base === undefined || hex(a.modelHash) !== hex(base)
      // Not trained from θ_w: scored as refused (the signed model hash is an exact sync check).
      ? Promise.resolve({ problem: "trained from another model" })
      : (async () => {
        try {
          const bytes = await net.fetchPayload(payloadHash, [from]);
          if (bytes.length !== a.size) throw new Error(`${bytes.length} bytes, announced ${a.size}`);
          return { bytes, tensors: chain.checkUpdate(bytes, a.window).tensors };
        } catch (e) {
          this.#report.log(
            `update of ${short(address)} for window ${a.window} refused: ${(e as Error).message}`,
          );
          net.node.store.delete(payloadHash);
          return { problem: (e as Error).message };
        }
      })();
    byAddress.set(address, { address, payloadHash, from, arrival: now, checked, equivocated: false });
  }

  async #run(): Promise<void> {
    const { net, chain } = this.#c;
    const clock = net.ctx.clock;
    let w = Math.max(chain.applied + 1, clock.windowAt(Date.now()));
    while (!this.#stopped) {
      const now = Date.now();
      this.#report.set({ window: clock.windowAt(now), connections: net.node.peers().length });
      if (w < 0) {
        this.#report.set({ phase: "waiting for genesis" });
        await this.#waker.sleep(Math.min(clock.windowStart(0) - now, 1000));
        w = Math.max(w, clock.windowAt(Date.now()));
        continue;
      }
      const deadline = clock.windowEnd(w) + net.ctx.graceMs;
      if (now < deadline) {
        this.#report.set({
          phase: `collecting window ${w} (${this.#candidates.get(w)?.size ?? 0} updates)`,
        });
        await this.#heldOutLoss(); // while the window is open, off the record's path
        await this.#waker.sleep(Math.min(deadline - now, 500));
        continue;
      }
      try {
        await this.#finish(w);
      } catch (e) {
        // Never leave the run without a validator over one bad round: say why, go on.
        this.#report.log(`round ${w} failed: ${e instanceof Error ? e.stack ?? e.message : e}`);
      }
      // A validator that fell behind (suspended, restarted) skips to the window open now.
      w = Math.max(w + 1, clock.windowAt(Date.now()));
      for (const k of this.#candidates.keys()) if (k < w - 1) this.#candidates.delete(k);
    }
  }

  async #finish(w: number): Promise<void> {
    const { net, chain } = this.#c;
    const clock = net.ctx.clock;
    this.#report.set({ phase: `selecting window ${w}` });
    // Where the record's time goes (ms since the deadline at each step), for the log line.
    const deadline = clock.windowEnd(w) + net.ctx.graceMs;
    const marks: string[] = [`start ${Date.now() - deadline}`];
    const mark = (what: string) => marks.push(`${what} ${Date.now() - deadline}`);
    const cands = [...(this.#candidates.get(w)?.values() ?? [])]
      .filter((c) => !c.equivocated)
      .sort((a, b) => a.arrival - b.arrival || (a.address < b.address ? -1 : 1));
    // What has not arrived by now is missing: a stalling author does not hold up the round.
    const STALLED = { problem: "" };
    const settled = await Promise.all(
      cands.map((c) => Promise.race([c.checked, Promise.resolve(STALLED)])),
    );
    const bytesOf = new Map<string, Uint8Array>();
    const submissions: Submission[] = [];
    cands.forEach((c, i) => {
      const s = settled[i];
      if (s === STALLED) {
        this.#report.log(`update of ${short(c.address)} for window ${w} did not arrive by the deadline`);
      } else if ("bytes" in s) {
        bytesOf.set(c.address, s.bytes);
        submissions.push({ address: c.address, arrival: c.arrival, tensors: s.tensors });
      } else submissions.push({ address: c.address, arrival: c.arrival, problem: s.problem });
    });
    // Outer delay 1: window w's updates were trained from the head before the last record.
    const base = chain.baseParams(w);
    if (base === undefined) {
      this.#report.log(`window ${w}: its base model is not held (restarted?); no record`);
      return;
    }
    this.#report.set({ phase: `scoring window ${w} (${submissions.length} updates)` });
    const t0 = performance.now();
    mark("settled");
    const j = await this.#c.scorer.judge(w, base, submissions);
    mark("scored");
    this.#report.log(
      `window ${w} scored: ${j.checks.size} of ${submissions.length} evaluated, ` +
        `${j.evalMs.toFixed(0)} ms each, ${(performance.now() - t0).toFixed(0)} ms in all`,
    );
    const byAddress = new Map(cands.map((c) => [c.address, c]));
    const ok = j.selected.map((address) => ({
      address,
      payloadHash: byAddress.get(address)!.payloadHash,
      bytes: bytesOf.get(address)!,
    }));
    const scored: ScoredPeer[] = submissions.slice(0, MAX_SCORED).map((s) => {
      const left = j.leftOut.get(s.address);
      const wallet = this.#c.scorer.ownerOf(s.address);
      const verdict: VerdictCode = j.selected.includes(s.address)
        ? "selected"
        : j.reserves.includes(s.address)
        ? "reserve"
        : left?.code ?? "not-evaluated";
      return {
        address: s.address,
        gradScore: j.checks.get(s.address)?.gradScore ?? NaN,
        score: j.scores.get(s.address) ?? 0,
        verdict,
        until: left?.until ?? 0,
        other: left?.other ?? null,
        // Signed into the record: credit by wallet is then recomputable from records alone.
        ...(wallet === s.address ? {} : { wallet }),
      };
    });
    for (const [address, why] of j.leftOut) {
      this.#report.log(`window ${w}: ${short(address)} left out: ${why.text}`);
    }
    const next = await chain.next(w, ok);
    mark("aggregated");
    const validLoss = await this.#heldOutLoss();
    const record: RoundRecord = {
      kind: "round-record",
      window: w,
      modelHash: chain.hash,
      nextModelHash: next.hash,
      contributors: ok.map((c) => ({ address: c.address, payloadHash: hashBytes(c.payloadHash) })),
      scored,
      ...(validLoss === undefined ? {} : { validLoss }),
    };
    // Served and kept for joiners, all at once: one after the other, each await waited for the
    // event loop's turn on a loaded machine (~0.5 s for three payloads in the attack swarm).
    await Promise.all(ok.map(async (c) => {
      await net.node.store.put(c.payloadHash, c.bytes, { pin: true });
      await this.#payloads.put(c.payloadHash, c.bytes);
    }));
    for (const c of ok) this.#kept.push({ window: w, hash: c.payloadHash });
    mark("kept");
    // Sign and keep the record before moving the head: a failure before this point leaves
    // the round undone (no record, same model), never a head without its record.
    const bytes = await net.sign(record);
    const signed = verifyRecord(net.ctx, bytes);
    if (typeof signed === "string") throw new Error(`own round record does not verify: ${signed}`);
    await net.records.add(signed);
    mark("signed");
    chain.commit(w, next);
    // Out before θ is saved (0.2–0.6 s under load): the record and its payloads are kept, so a
    // crash before the save is replayed at the next start (`applyKnown`).
    await net.publishSigned(net.node.topics.rounds, bytes);
    const out = Date.now() - deadline;
    net.traffic.up += bytes.length;
    this.#c.emit({
      event: "applied",
      role: "validator",
      address: net.signer.address,
      window: w,
      modelHash: chain.hashHex,
      contributors: ok.length,
      selected: ok.map((c) => c.address),
    });
    await this.#c.state.save(
      net.ctx,
      { applied: w, lastTrained: -1, params: chain.params },
      chain.hash,
    );
    mark("saved");
    this.#report.log(`window ${w} record out ${out} ms after the deadline (${marks.join(", ")})`);
    if ((w + 1) % net.ctx.genesis.checkpointInterval === 0) await this.#checkpoint(w + 1);
    this.#report.set({
      applied: w,
      modelHash: chain.hashHex.slice(0, 12),
      contributors: ok.length,
      bytesUp: net.traffic.up,
      validLoss: signed.record.validLoss ?? null,
    });
    // Late subscribers miss a single publish; once more after the mesh has had a heartbeat.
    setTimeout(() => {
      if (!this.#stopped) void net.node.publish(net.node.topics.rounds, bytes).catch(() => {});
    }, 1_000);
  }

  #validLoss: { hash: string; loss: number } | null = null;

  /** The held-out loss of the head θ_w, measured once per head; undefined without batches. */
  async #heldOutLoss(): Promise<number | undefined> {
    const held = this.#c.heldOut, { chain } = this.#c;
    if (held === undefined || held.batches.length === 0) return undefined;
    if (this.#validLoss?.hash !== chain.hashHex) {
      const loss = await held.probe.loss(chain.params, held.batches);
      this.#validLoss = { hash: chain.hashHex, loss };
    }
    return this.#validLoss.loss;
  }

  /** θ_window as a checkpoint: stored, served by hash, announced through the sync protocol. */
  async #checkpoint(window: number): Promise<void> {
    const { net, chain } = this.#c;
    const bytes = encodeCheckpoint(net.ctx.tensors, chain.params, {
      runId: net.ctx.runIdHex,
      window,
      modelHash: chain.hashHex,
    });
    const hash = await net.node.store.add(bytes, { pin: true });
    await this.#checkpoints.put(`${String(window).padStart(10, "0")}.safetensors`, bytes);
    const old = net.records.servedCheckpoint;
    net.records.servedCheckpoint = { window, hash, size: bytes.length };
    if (old !== null) net.node.store.unpin(old.hash);
    // Payloads before the checkpoint are no longer needed to replay.
    for (const k of this.#kept.filter((k) => k.window < window)) {
      net.node.store.unpin(k.hash);
      await this.#payloads.delete(k.hash).catch(() => {});
    }
    this.#kept = this.#kept.filter((k) => k.window >= window);
    this.#report.log(
      `checkpoint of window ${window}: ${hash.slice(0, 12)} (${bytes.length} bytes)`,
    );
  }

  /** After a restart: serve the newest checkpoint and the payloads recorded since. */
  async #restore(): Promise<void> {
    const { net } = this.#c;
    const newest = (await this.#checkpoints.list())
      .filter((n) => /^\d{10}\.safetensors$/.test(n))
      .sort().pop();
    const bytes = newest === undefined ? null : await this.#checkpoints.get(newest);
    if (newest !== undefined && bytes !== null) {
      const hash = await net.node.store.add(bytes, { pin: true });
      net.records.servedCheckpoint = {
        window: Number(newest.slice(0, 10)),
        hash,
        size: bytes.length,
      };
    }
    const from = net.records.servedCheckpoint?.window ?? 0;
    for (const r of net.records.after(from - 1)) {
      for (const c of r.record.contributors) {
        const h = hex(c.payloadHash);
        try {
          const bytes = await this.#payloads.get(h);
          if (bytes === null) throw new Error("not kept");
          await net.node.store.put(h, bytes, { pin: true }); // put verifies the hash
          this.#kept.push({ window: r.record.window, hash: h });
        } catch (e) {
          this.#report.log(
            `payload ${h.slice(0, 12)} of window ${r.record.window} not restored: ${
              (e as Error).message
            }`,
          );
        }
      }
    }
  }
}

function short(address: string): string {
  return address.slice(0, 8);
}
