/**
 * The registry of fuzz targets: every decoder that faces the network or the disk, one small
 * {@linkcode FuzzTarget} each (its valid seed inputs, the decode, the error classes a refusal
 * may throw). `deno task fuzz --target NAME|all` and `fuzz_targets_test.ts` run them through
 * `src/codec/fuzz.ts`. Byte formats are here; stream frames are in `fuzz_targets_net.ts`,
 * files in `fuzz_targets_files.ts`.
 *
 * @module
 */

import { ed25519PairFromSeed, ed25519Sign } from "@polkadot/util-crypto";
import type { FuzzField, FuzzSeed, FuzzTarget } from "../codec/fuzz.ts";
import { CodecError } from "../codec/errors.ts";
import { decodeUpdate, encodeUpdate, UPDATE_HEADER_BYTES } from "../codec/update_codec.ts";
import type { DecodeLimits, IndexMode, Update } from "../codec/update_codec.ts";
import {
  decodeMessage,
  encodeCertificate,
  encodeMessage,
  type MessageBody,
  peerBindingBytes,
  signMessage,
  verifyMessage,
  type VerifyOptions,
} from "../codec/messages.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type NamedTensor,
  SafetensorsError,
} from "../codec/safetensors.ts";
import { decodeSyncRequest, decodeSyncResponse, encodeSyncRequest } from "../net/sync_protocol.ts";
import { encodeSyncError, encodeSyncResponse } from "../net/sync_protocol.ts";
import { NetError } from "../net/errors.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { runIdOf } from "../protocol/genesis.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { recordHash } from "../protocol/quorum.ts";
import { verifyRecord } from "../protocol/record_log.ts";
import { type RunContext, runContext } from "../protocol/run_context.ts";
import { compressTensor } from "../reference/sparseloco/compress.ts";
import { mixSeed, Rng } from "../util/rng.ts";
import { numelOf } from "../util/shape.ts";
import { bytesEqual } from "../util/bytes.ts";
import { NET_TARGETS } from "./fuzz_targets_net.ts";
import { FILE_TARGETS } from "./fuzz_targets_files.ts";

// ---------------------------------------------------------------- update payloads

/** Shapes of the update seeds: matrices, odd tiles, 1-D with a short chunk, rank 3. */
const UPDATE_SHAPES: number[][][] = [
  [[64, 64], [70], [1, 64]],
  [[100, 48], [3, 5, 8], [130]],
  [[128, 64]],
  [],
];

/** Valid updates (both index modes) with their integer fields and exact limits. */
function updateSeeds(seed = 1): FuzzSeed[] {
  const rng = new Rng(mixSeed(seed, 0x5eed));
  const seeds: FuzzSeed[] = [];
  for (const shapes of UPDATE_SHAPES) {
    for (const mode of [0, 1] as IndexMode[]) {
      const k = 1 + rng.int(40);
      const tensors = shapes.map((shape, id) => {
        const n = numelOf(shape);
        const delta = rng.normals(n, 0.01);
        return { id, ...compressTensor(delta, new Float32Array(n), shape, { k }) };
      });
      const update: Update = {
        indexMode: mode,
        runId: Uint8Array.from({ length: 32 }, () => rng.int(256)),
        window: rng.u32(),
        modelHash: Uint8Array.from({ length: 32 }, () => rng.int(256)),
        tensors: tensors as Update["tensors"],
      };
      const bytes = encodeUpdate(update);
      const limits: DecodeLimits = {
        expected: {
          runId: update.runId,
          window: update.window,
          modelHash: update.modelHash,
          tensorShapes: shapes,
          tiles: {},
          k,
          indexMode: mode,
        },
      };
      seeds.push({ bytes, fields: updateFields(bytes, update), context: limits });
      // The same bytes against size limits only (what a relay checks before the context).
      seeds.push({
        bytes,
        fields: updateFields(bytes, update),
        context: { maxBytes: bytes.length + rng.int(16) } satisfies DecodeLimits,
      });
    }
  }
  return seeds;
}

/** Where the integer fields of a valid update are (mirrors the layout in update_codec.ts). */
function updateFields(bytes: Uint8Array, update: Update): FuzzField[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: FuzzField[] = [
    { offset: 4, width: 1 },
    { offset: 5, width: 1 },
    { offset: 6, width: 2 },
    { offset: 40, width: 4 },
    { offset: 76, width: 2 },
  ];
  let p = UPDATE_HEADER_BYTES;
  for (const t of update.tensors) {
    fields.push({ offset: p, width: 2 }, { offset: p + 2, width: 1 });
    p += 3;
    for (let i = 0; i < t.shape.length; i++, p += 4) fields.push({ offset: p, width: 4 });
    fields.push({ offset: p, width: 4 }, { offset: p + 4, width: 4 }, { offset: p + 8, width: 4 });
    p += 12 + 16;
    fields.push({ offset: p, width: 1 }, { offset: p + 1, width: 4 });
    const indexBytes = view.getUint32(p + 1, true);
    p += 5 + indexBytes + Math.ceil(t.codes.length / 4);
  }
  if (p !== bytes.length) throw new Error(`fuzz: field walk ended at ${p} of ${bytes.length}`);
  return fields;
}

/** Update payloads: decode, and an accepted one must re-encode to the same bytes. */
const UPDATE: FuzzTarget = {
  name: "update",
  about: "update payloads (decodeUpdate)",
  seeds: () => Promise.resolve(updateSeeds()),
  errors: [CodecError],
  decode(input, seed) {
    const update = decodeUpdate(input, seed.context as DecodeLimits);
    if (!bytesEqual(encodeUpdate(update), input)) {
      throw new Error("decoded, but re-encodes to other bytes");
    }
    return "accepted";
  },
};

// ---------------------------------------------------------------- gossip messages

const T0 = 1_750_000_000_000;

/** Signed messages of one kind, with the verifier's context. */
async function messageSeeds(kind: MessageBody["kind"]): Promise<FuzzSeed[]> {
  await identityReady();
  const alice = KeySigner.fromUri("//Alice");
  const bob = KeySigner.fromUri("//Bob");
  const runId = runIdOf(localGenesis({ validators: [alice.address], genesisTime: T0 }));
  const options: VerifyOptions = { runId, validators: [alice.address], now: T0 + 1000 };
  const pair = ed25519PairFromSeed(new Uint8Array(32).fill(9));
  const h = (fill: number) => new Uint8Array(32).fill(fill);
  const bodies: MessageBody[] = kind === "peer-announce"
    ? [0, 1, 3].map((n) => ({
      kind,
      peerKey: pair.publicKey,
      peerSignature: ed25519Sign(peerBindingBytes(runId, bob.publicKey), pair),
      addresses: ["/ip4/127.0.0.1/tcp/4001/ws", "/dns4/peer.example/tcp/443/wss", "/ip6/::1/tcp/1"]
        .slice(0, n),
      capabilities: n === 0 ? [] : ["train", "serve-payloads"],
    }))
    : kind === "update-announce"
    ? [{ kind, window: 3, modelHash: h(1), payloadHash: h(2), size: 123_456 }]
    : kind === "record-vote"
    ? [{ kind, window: 3, recordHash: h(7) }]
    : [0, 2].map((n) => ({
      kind,
      window: 3,
      modelHash: h(1),
      nextModelHash: h(3),
      contributors: [{ address: bob.address, payloadHash: h(5) }].slice(0, n),
      scored: n === 0 ? undefined : [
        {
          address: bob.address,
          gradScore: 0.01,
          score: 0.5,
          verdict: "selected",
          until: 0,
          other: null,
        },
        {
          address: KeySigner.fromUri("//Carol").address,
          gradScore: -0.2,
          score: 0,
          verdict: "copy",
          until: 9,
          other: bob.address,
        },
      ],
    }));
  const signer = kind === "round-record" || kind === "record-vote" ? alice : bob;
  const seeds: FuzzSeed[] = [];
  for (const body of bodies) {
    const bytes = await signMessage(signer, { runId, timestamp: T0, body });
    const fields: FuzzField[] = [4, 5, 6, 72, 76].map((offset) => ({
      offset,
      width: offset === 6 ? 2 : offset >= 72 ? 4 : 1,
    }));
    for (let off = 80; off + 4 <= bytes.length - 64; off += 4) {
      fields.push({ offset: off, width: 4 });
    }
    seeds.push({ bytes, fields, context: options });
  }
  return seeds;
}

/** One gossip message kind: verify (never throws) and, if it decodes, the same bytes again. */
function messageTarget(kind: MessageBody["kind"]): FuzzTarget {
  return {
    name: `message-${kind}`,
    about: `gossip ${kind} (verifyMessage, decodeMessage)`,
    seeds: () => messageSeeds(kind),
    errors: [],
    decode(input, seed) {
      const decoded = decodeMessage(input);
      if (decoded.ok && !bytesEqual(encodeMessage(decoded.message), input)) {
        throw new Error("decoded, but re-encodes to other bytes");
      }
      const r = verifyMessage(input, seed.context as VerifyOptions);
      if (r.ok && !decoded.ok) throw new Error("verified, but does not decode");
      return r.ok ? "accepted" : { rejected: `${r.reason}: ${r.detail}` };
    },
  };
}

// ---------------------------------------------------------------- round certificates

/** Round certificates of a run with a quorum (a record and its votes), as kept and synced. */
async function certificateSeeds(): Promise<FuzzSeed[]> {
  await identityReady();
  const [alice, bob] = [KeySigner.fromUri("//Alice"), KeySigner.fromUri("//Bob")];
  const ctx = runContext(localGenesis({
    validators: [alice.address, bob.address],
    genesisTime: T0,
    quorum: { votes: 2, fallbackMs: 1000 },
  }));
  const h = (fill: number) => new Uint8Array(32).fill(fill);
  const record = await signMessage(alice, {
    runId: ctx.runId,
    timestamp: T0,
    body: {
      kind: "round-record",
      window: 3,
      modelHash: h(1),
      nextModelHash: h(3),
      contributors: [],
    },
  });
  const vote = (s: KeySigner) =>
    signMessage(s, {
      runId: ctx.runId,
      timestamp: T0,
      body: { kind: "record-vote", window: 3, recordHash: recordHash(record) },
    });
  const seeds: FuzzSeed[] = [];
  const byKey = [alice, bob].sort((a, b) => (a.address < b.address ? -1 : 1));
  for (const voters of [byKey, [alice]]) {
    const bytes = encodeCertificate({ record, votes: await Promise.all(voters.map(vote)) });
    const fields: FuzzField[] = [{ offset: 4, width: 1 }, { offset: 5, width: 4 }];
    for (let off = 9 + 80; off + 4 <= 9 + record.length - 64; off += 4) {
      fields.push({ offset: off, width: 4 });
    }
    seeds.push({ bytes, fields, context: ctx });
  }
  return seeds;
}

const CERTIFICATE: FuzzTarget = {
  name: "round-certificate",
  about: "round certificates of a quorum run (verifyRecord: decodeCertificate, votes)",
  seeds: certificateSeeds,
  errors: [],
  maxRandomBytes: 600,
  decode(input, seed) {
    const r = verifyRecord(seed.context as RunContext, input);
    return typeof r === "string" ? { rejected: r } : "accepted";
  },
};

// ---------------------------------------------------------------- sync frames (whole buffers)

const SYNC_REQUEST: FuzzTarget = {
  name: "sync-request",
  about: "sync protocol request (decodeSyncRequest)",
  seeds: () =>
    Promise.resolve(
      [0, 7, 0xffffffff].map((w) => ({ bytes: encodeSyncRequest(w), fields: [] })),
    ),
  errors: [NetError],
  decode(input) {
    decodeSyncRequest(input);
    return "accepted";
  },
};

/** Sync responses: with and without a checkpoint, records, `more`, and error answers. */
function syncResponseSeeds(): FuzzSeed[] {
  const rec = (n: number, fill: number) => new Uint8Array(n).fill(fill);
  const cp = { window: 10, hash: "ab".repeat(32), size: 300_000 };
  return [
    encodeSyncResponse({ checkpoint: null, records: [], more: false }),
    encodeSyncResponse({ checkpoint: cp, records: [rec(200, 1), rec(150, 2)], more: true }),
    encodeSyncResponse({
      checkpoint: null,
      records: [rec(300, 3), rec(1, 4), rec(128, 5)],
      more: false,
    }),
    encodeSyncError(1, "no history served"),
    encodeSyncError(2, "busy, try another peer"),
  ].map((bytes) => ({ bytes }));
}

const SYNC_RESPONSE: FuzzTarget = {
  name: "sync-response",
  about: "sync protocol response (decodeSyncResponse)",
  seeds: () => Promise.resolve(syncResponseSeeds()),
  errors: [NetError],
  maxRandomBytes: 600,
  decode(input) {
    decodeSyncResponse(input);
    return "accepted";
  },
};

// ---------------------------------------------------------------- safetensors

/** A safetensors file from a header object and data bytes (for F16/BF16 seeds). */
function rawSafetensors(header: unknown, data: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function safetensorsSeeds(): FuzzSeed[] {
  const rng = new Rng(0x5afe);
  const t = (name: string, shape: number[]): NamedTensor => ({
    name,
    shape,
    data: rng.normals(numelOf(shape)),
  });
  const half = Uint8Array.from({ length: 24 }, () => rng.int(256));
  return [
    encodeSafetensors([t("a.weight", [4, 3]), t("b", [5]), t("s", [])], { format: "x", k: "v" }),
    encodeSafetensors([t("only", [2, 2, 2])]),
    encodeSafetensors([]),
    rawSafetensors({
      h: { dtype: "F16", shape: [2, 3], data_offsets: [0, 12] },
      b: { dtype: "BF16", shape: [6], data_offsets: [12, 24] },
      __metadata__: { a: "b" },
    }, half),
  ].map((bytes) => ({ bytes, fields: [{ offset: 0, width: 4 }] }));
}

const SAFETENSORS: FuzzTarget = {
  name: "safetensors",
  about: "safetensors files (decodeSafetensors)",
  seeds: () => Promise.resolve(safetensorsSeeds()),
  errors: [SafetensorsError],
  maxRandomBytes: 400,
  decode(input) {
    decodeSafetensors(input);
    return "accepted";
  },
};

// ---------------------------------------------------------------- the registry

/** Every fuzz target, by name, in report order. */
export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  UPDATE,
  messageTarget("peer-announce"),
  messageTarget("update-announce"),
  messageTarget("round-record"),
  messageTarget("record-vote"),
  CERTIFICATE,
  SYNC_REQUEST,
  SYNC_RESPONSE,
  ...NET_TARGETS,
  SAFETENSORS,
  ...FILE_TARGETS,
];

/** The target named `name`; throws a RangeError naming the known ones. */
export function fuzzTargetNamed(name: string): FuzzTarget {
  const t = FUZZ_TARGETS.find((x) => x.name === name);
  if (t === undefined) {
    throw new RangeError(
      `unknown fuzz target "${name}"; known: ${FUZZ_TARGETS.map((x) => x.name).join(", ")}`,
    );
  }
  return t;
}
