/**
 * Fuzz targets for what a node reads from its disk or from an operator: checkpoints, the
 * genesis file (JSON and validation), key files, and a role's saved-state pointer (read back
 * through {@linkcode RoleState.load}). JSON inputs get tree edits as well as byte edits.
 *
 * @module
 */

import type { FuzzOutcome, FuzzSeed, FuzzTarget } from "../codec/fuzz.ts";
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from "../codec/checkpoint.ts";
import { modelHash, modelHashSync } from "../codec/model_hash.ts";
import { GenesisError, parseGenesis } from "../protocol/genesis.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { type RunContext, runContext } from "../protocol/run_context.ts";
import { MemoryStore } from "../protocol/memory_store.ts";
import { StateError } from "../protocol/state_store.ts";
import { RoleState } from "../roles/role_state.ts";
import { KeyFileError, parseKeyFile } from "../identity/key_file.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import type { ParamEntry, ParamLayout } from "../model/params.ts";
import { hex } from "../util/hex.ts";
import { Rng } from "../util/rng.ts";

const text = (s: string) => new TextEncoder().encode(s);
const GENESIS_TIME = 1_750_000_000_000;
/** //Alice's address (a validator is required; no key is used). */
const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

// ---------------------------------------------------------------- checkpoints

/** A small layout (a matrix, a vector, an odd matrix, one padding element): fast to hash. */
function smallLayout(): ParamLayout {
  const entries: ParamEntry[] = [
    { name: "a.weight", shape: [4, 8], offset: 0, size: 32, decay: true },
    { name: "b.weight", shape: [8], offset: 32, size: 8, decay: false },
    { name: "c.weight", shape: [3, 5], offset: 40, size: 15, decay: true },
  ];
  return { entries, byName: new Map(entries.map((e) => [e.name, e])), length: 56, count: 55 };
}

const LAYOUT = smallLayout();

/** θ of {@linkcode LAYOUT} from `seed` (padding +0, as the codec requires). */
export function smallParams(seed: number): Float32Array {
  const p = new Rng(seed).normals(LAYOUT.length, 0.1);
  p[55] = 0;
  return p;
}

const RUN_HEX = "ab".repeat(32);

function checkpointSeeds(): FuzzSeed[] {
  return [0, 1].map((i) => {
    const p = smallParams(i + 1);
    const meta = { runId: RUN_HEX, window: 5 + i, modelHash: hex(modelHashSync(p)) };
    const extra = i === 0
      ? []
      : [{ name: "webloco.error_feedback", shape: [56], data: smallParams(9) }];
    return {
      bytes: encodeCheckpoint(LAYOUT.entries, p, meta, extra),
      fields: [{ offset: 0, width: 4 }],
      context: { runId: RUN_HEX, window: meta.window },
    };
  });
}

const CHECKPOINT: FuzzTarget = {
  name: "checkpoint",
  about: "checkpoints (decodeCheckpoint: safetensors, metadata, layout, model hash)",
  seeds: () => Promise.resolve(checkpointSeeds()),
  errors: [CheckpointError],
  maxRandomBytes: 600,
  async decode(input, seed): Promise<FuzzOutcome> {
    await decodeCheckpoint(input, LAYOUT.entries, LAYOUT.length, seed.context as object);
    return "accepted";
  },
};

// ---------------------------------------------------------------- genesis

async function genesisSeeds(): Promise<FuzzSeed[]> {
  await identityReady();
  const validators = ["//Alice", "//Bob"].map((u) => KeySigner.fromUri(u).address);
  const plain = localGenesis({ validators: validators.slice(0, 1), genesisTime: GENESIS_TIME });
  const full = localGenesis({
    validators,
    genesisTime: GENESIS_TIME,
    bootstrap: [
      "/ip4/127.0.0.1/tcp/4001/ws/p2p/12D3KooWLRPJAA5o6KqpjXnvKnA2S4A2VQ6YDMAU5BJH7Yem4EwC",
    ],
    tokenizer: { path: "tokenizer.json", sha256: "12".repeat(32), bytes: 2048 },
    data: {
      corpus: [{ path: "a.txt", sha256: "34".repeat(32) }, {
        path: "b.txt",
        sha256: "56".repeat(32),
        bytes: 9,
      }],
    },
  });
  return [plain, { ...full, gauntlet: { bins: 8, passRatio: 0.5 } }].map((g) => ({
    bytes: text(JSON.stringify(g, null, 2)),
    json: true,
  }));
}

const GENESIS: FuzzTarget = {
  name: "genesis",
  about: "genesis files (parseGenesis: JSON and validation)",
  seeds: genesisSeeds,
  errors: [GenesisError],
  maxRandomBytes: 400,
  decode(input) {
    parseGenesis(new TextDecoder().decode(input), "genesis.json");
    return "accepted";
  },
};

// ---------------------------------------------------------------- key files

/** The well-known development mnemonic (never a real key). */
const DEV_MNEMONIC = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";

async function keyFileSeeds(): Promise<FuzzSeed[]> {
  await identityReady();
  const seed = new Uint8Array(32).fill(7);
  const bySeed = KeySigner.fromSeed(seed);
  const byMnemonic = KeySigner.fromMnemonic(DEV_MNEMONIC);
  return [
    { version: 1, type: "sr25519", address: bySeed.address, seed: "0x" + hex(seed) },
    { version: 1, type: "sr25519", address: byMnemonic.address, mnemonic: DEV_MNEMONIC },
  ].map((f) => ({ bytes: text(JSON.stringify(f, null, 2) + "\n"), json: true }));
}

const KEY_FILE: FuzzTarget = {
  name: "key-file",
  about: "key files (parseKeyFile)",
  seeds: keyFileSeeds,
  errors: [KeyFileError],
  maxRandomBytes: 300,
  decode(input) {
    parseKeyFile(new TextDecoder().decode(input), "key.json");
    return "accepted";
  },
};

// ---------------------------------------------------------------- saved-state pointer

/**
 * A run context over a 56-float layout, so a save or a load hashes 56 floats, not a model
 * (also the state of the kill -9 and disk-full tests).
 */
export function smallContext(): RunContext {
  const ctx = runContext(localGenesis({ validators: [ALICE], genesisTime: GENESIS_TIME }));
  return { ...ctx, layout: LAYOUT, tensors: LAYOUT.entries };
}

/** `state.json` of a saved peer state (the blob beside it in `context`). */
async function stateSeeds(): Promise<FuzzSeed[]> {
  await identityReady();
  const ctx = smallContext();
  const seeds: FuzzSeed[] = [];
  for (const error of [undefined, smallParams(3)]) {
    const store = new MemoryStore();
    const p = smallParams(2);
    await new RoleState(store).save(
      ctx,
      { applied: 6, lastTrained: 6, params: p, error },
      await modelHash(p),
    );
    const files = new Map<string, Uint8Array>();
    for (const name of await store.list()) files.set(name, (await store.get(name))!);
    seeds.push({ bytes: files.get("state.json")!, json: true, context: files });
  }
  return seeds;
}

const STATE_CTX = smallContext();

const STATE: FuzzTarget = {
  name: "state-pointer",
  about: "a role's saved-state pointer (RoleState.load over the pointer and its blob)",
  seeds: stateSeeds,
  errors: [StateError],
  async decode(input, seed): Promise<FuzzOutcome> {
    const store = new MemoryStore();
    for (const [name, bytes] of seed.context as Map<string, Uint8Array>) {
      await store.put(name, name === "state.json" ? input : bytes);
    }
    await new RoleState(store).load(STATE_CTX);
    return "accepted";
  },
};

/** The file targets, in report order. */
export const FILE_TARGETS: readonly FuzzTarget[] = [CHECKPOINT, GENESIS, KEY_FILE, STATE];
