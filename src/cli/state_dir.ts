/**
 * A role's data directory: its model state (a safetensors checkpoint of θ, plus the
 * error-feedback buffer for peers), a small JSON pointer naming the current state file, its
 * libp2p key, its round records and checkpoints. Every write is atomic (temporary file, then
 * rename); the pointer is written last, so a crash leaves the previous state intact.
 *
 * @module
 */

import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { writeFileAtomic } from "../util/atomic_write.ts";
import {
  decodeCheckpoint,
  encodeCheckpoint,
  ERROR_FEEDBACK_TENSOR,
} from "../codec/checkpoint.ts";
import { hex } from "../util/hex.ts";
import { modelHash as hashOf } from "../codec/model_hash.ts";
import type { RunContext } from "../protocol/run_context.ts";

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

/** A state that cannot be used (corrupted, another run); the files are left in place. */
export class StateError extends Error {
  /** "StateError". */
  override name = "StateError";
}

const POINTER = "state.json";
const ERROR_TENSOR = ERROR_FEEDBACK_TENSOR;

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

/** A role's data directory. */
export class StateDir {
  /** The folder. */
  readonly path: string;
  #seq = 0;

  private constructor(path: string) {
    this.path = path;
  }

  /** Opens (creating) the folder. Throws `StateError` if it exists and is not a folder. */
  static async open(path: string): Promise<StateDir> {
    try {
      await Deno.mkdir(path, { recursive: true });
    } catch (e) {
      throw new StateError(`${path}: cannot create the data directory (${(e as Error).message})`);
    }
    return new StateDir(path);
  }

  /** Where round records are kept. */
  get recordsDir(): string {
    return `${this.path}/records`;
  }

  /** Where checkpoints are kept. */
  get checkpointsDir(): string {
    return `${this.path}/checkpoints`;
  }

  /**
   * The saved state, or null when there is none. Throws {@linkcode StateError} when it
   * exists but cannot be used: the caller reports it and may {@linkcode quarantine} it.
   */
  async load(ctx: RunContext): Promise<SavedState | null> {
    let text: string;
    try {
      text = await Deno.readTextFile(`${this.path}/${POINTER}`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw new StateError(`${this.path}/${POINTER}: cannot read (${(e as Error).message})`);
    }
    const p = parsePointer(text, `${this.path}/${POINTER}`);
    if (p.runId !== ctx.runIdHex) {
      throw new StateError(
        `${this.path}: state of run ${p.runId.slice(0, 12)}, this genesis is run ${
          ctx.runIdHex.slice(0, 12)
        }`,
      );
    }
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(`${this.path}/${p.file}`);
    } catch (e) {
      throw new StateError(`${this.path}/${p.file}: cannot read (${(e as Error).message})`);
    }
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
      this.#seq = Number(p.file.match(/^state-(\d+)\./)?.[1] ?? 0);
      return { applied: p.applied, lastTrained: p.lastTrained, params, error: e?.data };
    } catch (e) {
      throw new StateError(`${this.path}/${p.file}: ${(e as Error).message}`);
    }
  }

  /** Saves `s`: a new state file, then the pointer, then the old file is removed. */
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
    await writeFileAtomic(`${this.path}/${file}`, bytes);
    const pointer: Pointer = {
      version: 1,
      runId: ctx.runIdHex,
      file,
      applied: s.applied,
      lastTrained: s.lastTrained,
      modelHash: hex(modelHash),
      errorHash: s.error === undefined ? null : hex(await hashOf(s.error)),
    };
    await writeFileAtomic(`${this.path}/${POINTER}`, JSON.stringify(pointer, null, 2) + "\n");
    for await (const e of Deno.readDir(this.path)) {
      if (e.name !== file && /^state-\d+\.safetensors$/.test(e.name)) {
        await Deno.remove(`${this.path}/${e.name}`).catch(() => {});
      }
    }
  }

  /**
   * Moves an unusable state aside (`state.json` and its state files get a `.bad-<time>`
   * suffix), keeping it for inspection; returns the pointer's new path.
   */
  async quarantine(): Promise<string> {
    const suffix = `.bad-${Date.now()}`;
    for await (const e of Deno.readDir(this.path)) {
      if (/^state-\d+\.safetensors$/.test(e.name)) {
        await Deno.rename(`${this.path}/${e.name}`, `${this.path}/${e.name}${suffix}`);
      }
    }
    const to = `${this.path}/${POINTER}${suffix}`;
    await Deno.rename(`${this.path}/${POINTER}`, to);
    return to;
  }

  async #highestSeq(): Promise<number> {
    let n = 0;
    for await (const e of Deno.readDir(this.path)) {
      const m = e.name.match(/^state-(\d+)\.safetensors/);
      if (m !== null) n = Math.max(n, Number(m[1]));
    }
    return n;
  }

  /** The node's libp2p key (Ed25519), created on first use, so its peer id survives restarts. */
  async libp2pKey(): Promise<PrivateKey> {
    const path = `${this.path}/libp2p.key`;
    try {
      return privateKeyFromProtobuf(await Deno.readFile(path));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new StateError(`${path}: not a libp2p private key (${(e as Error).message})`);
      }
    }
    const key = await generateKeyPair("Ed25519");
    // 0600 from the first byte (not writeFileAtomic: its temporary file would be readable by
    // others until the chmod, and stay so after a crash in between), then an atomic rename.
    const tmp = `${path}.tmp-${crypto.randomUUID()}`;
    try {
      await Deno.writeFile(tmp, privateKeyToProtobuf(key), { createNew: true, mode: 0o600 });
      // In case the umask took owner bits away.
      if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o600);
      await Deno.rename(tmp, path);
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
    return key;
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
    typeof p.file !== "string" || !/^state-\d+\.safetensors$/.test(p.file) || !int(p.applied) ||
    !int(p.lastTrained) || typeof p.modelHash !== "string" || !/^[0-9a-f]{64}$/.test(p.modelHash) ||
    !(p.errorHash === null ||
      (typeof p.errorHash === "string" && /^[0-9a-f]{64}$/.test(p.errorHash)))
  ) {
    throw new StateError(`${where}: not a webloco state pointer`);
  }
  return p as Pointer;
}
