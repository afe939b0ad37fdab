/**
 * A role's model state in its {@linkcode StateStore}: a safetensors checkpoint of θ (plus the
 * error-feedback buffer for peers) and a small JSON pointer naming the current state blob,
 * with the hashes of both. Every put is atomic and the pointer is written last, so a crash
 * leaves the previous state intact; a state that does not match its hashes is refused, never
 * used.
 *
 * @module
 */

import { decodeCheckpoint, encodeCheckpoint, ERROR_FEEDBACK_TENSOR } from "../codec/checkpoint.ts";
import { modelHash as hashOf } from "../codec/model_hash.ts";
import { hex } from "../util/hex.ts";
import type { RunContext } from "../protocol/run_context.ts";
import { StateError, type StateStore } from "../protocol/state_store.ts";

/** What a role persists between runs. */
export interface SavedState {
  /** Window of the last round record applied to `params` (−1: θ₀). */
  applied: number;
  /** Last window this node trained and announced (−1: none). */
  lastTrained: number;
  /** θ after `applied`. */
  params: Float32Array;
  /** The error-feedback buffer (peers only). */
  error?: Float32Array;
}

const POINTER = "state.json";
const ERROR_TENSOR = ERROR_FEEDBACK_TENSOR;
const STATE_BLOB = /^state-(\d+)\.safetensors$/;

interface Pointer {
  version: 1;
  runId: string;
  file: string;
  applied: number;
  lastTrained: number;
  modelHash: string;
  /** SHA-256 of the error-feedback buffer (the model hash covers θ only); null without one. */
  errorHash: string | null;
}

/** A role's saved state. */
export class RoleState {
  /** Where it is kept. */
  readonly store: StateStore;
  #seq = 0;

  constructor(store: StateStore) {
    this.store = store;
  }

  /**
   * The saved state, or null when there is none. Throws {@linkcode StateError} when it
   * exists but cannot be used: the caller reports it and may {@linkcode quarantine} it.
   */
  async load(ctx: RunContext): Promise<SavedState | null> {
    const where = this.store.where;
    const text = await this.#get(POINTER);
    if (text === null) return null;
    const p = parsePointer(new TextDecoder().decode(text), `${where}/${POINTER}`);
    if (p.runId !== ctx.runIdHex) {
      throw new StateError(
        `${where}: state of run ${p.runId.slice(0, 12)}, this genesis is run ${
          ctx.runIdHex.slice(0, 12)
        }`,
      );
    }
    const bytes = await this.#get(p.file);
    if (bytes === null) throw new StateError(`${where}/${p.file}: cannot read (not found)`);
    try {
      const { params, extra } = await decodeCheckpoint(bytes, ctx.tensors, ctx.layout.length, {
        runId: ctx.runIdHex,
        window: p.applied + 1,
        modelHash: p.modelHash,
      });
      const e = extra.find((t) => t.name === ERROR_TENSOR);
      if (e !== undefined && e.data.length !== ctx.layout.length) {
        throw new Error(
          `${ERROR_TENSOR} has ${e.data.length} floats, expected ${ctx.layout.length}`,
        );
      }
      if ((e === undefined ? null : hex(await hashOf(e.data))) !== p.errorHash) {
        throw new Error("corrupted: the error-feedback buffer does not match its hash");
      }
      this.#seq = Number(p.file.match(STATE_BLOB)![1]);
      return { applied: p.applied, lastTrained: p.lastTrained, params, error: e?.data };
    } catch (e) {
      throw new StateError(`${where}/${p.file}: ${(e as Error).message}`);
    }
  }

  /** Saves `s`: a new state blob, then the pointer, then the old blobs are removed. */
  async save(ctx: RunContext, s: SavedState, modelHash: Uint8Array): Promise<void> {
    if (this.#seq === 0) this.#seq = await this.#highestSeq();
    const file = `state-${++this.#seq}.safetensors`;
    const extra = s.error === undefined
      ? []
      : [{ name: ERROR_TENSOR, shape: [s.error.length], data: s.error }];
    const bytes = encodeCheckpoint(ctx.tensors, s.params, {
      runId: ctx.runIdHex,
      window: s.applied + 1,
      modelHash: hex(modelHash),
    }, extra);
    await this.store.put(file, bytes);
    const pointer: Pointer = {
      version: 1,
      runId: ctx.runIdHex,
      file,
      applied: s.applied,
      lastTrained: s.lastTrained,
      modelHash: hex(modelHash),
      errorHash: s.error === undefined ? null : hex(await hashOf(s.error)),
    };
    await this.store.put(
      POINTER,
      new TextEncoder().encode(JSON.stringify(pointer, null, 2) + "\n"),
    );
    for (const name of await this.store.list()) {
      if (name !== file && STATE_BLOB.test(name)) await this.store.delete(name).catch(() => {});
    }
  }

  /**
   * Moves an unusable state aside (the pointer and the state blobs get one `.bad-<time>`
   * suffix), keeping it for inspection; returns where the pointer went.
   */
  async quarantine(): Promise<string> {
    const at = Date.now();
    for (const name of await this.store.list()) {
      if (STATE_BLOB.test(name)) await this.store.quarantine(name, at);
    }
    return `${this.store.where}/${await this.store.quarantine(POINTER, at)}`;
  }

  async #get(name: string): Promise<Uint8Array | null> {
    try {
      return await this.store.get(name);
    } catch (e) {
      throw new StateError(`${this.store.where}/${name}: cannot read (${(e as Error).message})`);
    }
  }

  async #highestSeq(): Promise<number> {
    let n = 0;
    for (const name of await this.store.list()) {
      const m = name.match(/^state-(\d+)\.safetensors/);
      if (m !== null) n = Math.max(n, Number(m[1]));
    }
    return n;
  }
}

function parsePointer(text: string, where: string): Pointer {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new StateError(`${where}: not JSON`);
  }
  const p = v as Partial<Pointer>;
  const int = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= -1;
  if (
    typeof v !== "object" || v === null || p.version !== 1 || typeof p.runId !== "string" ||
    typeof p.file !== "string" || !STATE_BLOB.test(p.file) || !int(p.applied) ||
    !int(p.lastTrained) || typeof p.modelHash !== "string" || !/^[0-9a-f]{64}$/.test(p.modelHash) ||
    !(p.errorHash === null ||
      (typeof p.errorHash === "string" && /^[0-9a-f]{64}$/.test(p.errorHash)))
  ) {
    throw new StateError(`${where}: not a webloco state pointer`);
  }
  return p as Pointer;
}
