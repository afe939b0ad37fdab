/**
 * The Deno peer of test/browser/net.spec.ts: a validator node that a Chromium node dials.
 *
 * ```sh
 * deno run -A test/browser/net_fixture.ts [--tamper]
 * ```
 *
 * It makes the run of a local genesis whose only validator is //Alice, listens on WebSockets
 * on loopback, serves one real encoded SparseLoCo update (trained by //Bob) pinned in its
 * store, and prints ONE JSON line on stdout:
 * `{"addr", "peerId", "runId", "validator", "contributor", "payloadHash", "payloadBytes"}`.
 * Then, every {@linkcode TICK_MS}, it publishes on the rounds topic a round record signed by
 * //Alice for the next window, naming //Bob's payload. Gossip drops what is published before
 * the mesh forms, hence the repetition.
 *
 * With `--tamper` it also publishes, once each until a peer received them, a forged record
 * (Alice's valid record with the payload hash changed after signing) and a record signed by
 * //Bob, who is not a validator; a correct receiver rejects both.
 *
 * It runs until stdin closes (the spec went away) or SIGTERM/SIGINT, and stops the node.
 * Diagnostics go to stderr.
 *
 * @module
 */

import { Rng } from "../../src/util/rng.ts";
import { encodeUpdate, type UpdateTensor } from "../../src/codec/update_codec.ts";
import { KeySigner } from "../../src/identity/key_signer.ts";
import { identityReady, type Signer } from "../../src/identity/signer.ts";
import { createDenoNode } from "../../src/net/deno_node.ts";
import { hashBytes } from "../../src/net/payload_store.ts";
import { sha256 } from "../../src/util/hash.ts";
import { hex } from "../../src/util/hex.ts";
import { runIdOf } from "../../src/protocol/genesis.ts";
import { localGenesis } from "../../src/protocol/local_genesis.ts";
import { type RoundRecord, signMessage, verifyMessage } from "../../src/codec/messages.ts";
import { compressTensor } from "../../src/reference/sparseloco/compress.ts";

/** What the fixture prints on its one stdout line. */
export interface NetFixtureInfo {
  /** The node's WebSockets multiaddr, with /p2p/. */
  addr: string;
  /** The node's libp2p peer id. */
  peerId: string;
  /** The run id, hex (64 digits). */
  runId: string;
  /** SS58 address of the run's only validator (the signer of the records). */
  validator: string;
  /** SS58 address of the contributor named in the records. */
  contributor: string;
  /** SHA-256 of the served payload, hex. */
  payloadHash: string;
  /** Size of the served payload. */
  payloadBytes: number;
}

/** Interval between round records. */
export const TICK_MS = 300;

/** Fixed, so the run id is the same on every run (genesis time is part of it). */
const GENESIS_TIME = Date.UTC(2026, 0, 1);

/** Tensor shapes of the update: 256 tiles of 64×64 and a norm vector. */
const SHAPES = [[512, 1024], [1024, 512], [1024]];
/** Entries kept per tile: 8× the run's k, so the payload (~100 kB) spans many stream chunks. */
const K = 512;

function log(line: string): void {
  console.error(`net_fixture: ${line}`);
}

/** A real SparseLoCo update (seeded deltas, compressed, Rice-coded) of window 0. */
function makePayload(runId: Uint8Array, modelHash: Uint8Array): Uint8Array {
  const rng = new Rng(20260101);
  const tensors = SHAPES.map((shape, id): UpdateTensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = compressTensor(rng.normals(n, 0.01), new Float32Array(n), shape, { k: K });
    return { id, ...t } as UpdateTensor;
  });
  return encodeUpdate({ runId, window: 0, modelHash, tensors });
}

function roundRecord(window: number, contributor: string, payloadHash: Uint8Array): RoundRecord {
  const modelHash = new Uint8Array(32).fill(window & 0xff);
  const nextModelHash = new Uint8Array(32).fill((window + 1) & 0xff);
  return {
    kind: "round-record",
    window,
    modelHash,
    nextModelHash,
    contributors: [{ address: contributor, payloadHash }],
  };
}

async function main(args: readonly string[]): Promise<void> {
  const tamper = args.includes("--tamper");
  const unknown = args.filter((a) => a !== "--tamper");
  if (unknown.length > 0) throw new Error(`unknown arguments ${unknown.join(" ")}`);

  await identityReady();
  const alice: Signer = KeySigner.fromUri("//Alice");
  const bob: Signer = KeySigner.fromUri("//Bob");
  const genesis = localGenesis({ validators: [alice.address], genesisTime: GENESIS_TIME });
  const runId = runIdOf(genesis);
  const verifyOptions = { runId, validators: [alice.address] };

  const node = await createDenoNode({
    runId,
    listen: ["/ip4/127.0.0.1/tcp/0/ws"],
    validate: (_topic, data) =>
      verifyMessage(data, { ...verifyOptions, now: Date.now() }).ok ? "accept" : "reject",
    log,
  });
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${why})`);
    clearInterval(timer);
    await node.stop().catch((err) => log(`stop failed: ${err}`));
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));

  const modelHash = await sha256(new TextEncoder().encode("net fixture θ0"));
  const payload = makePayload(runId, modelHash);
  const payloadHash = await node.store.add(payload, { pin: true });
  const hash = hashBytes(payloadHash);

  const addr = node.addresses().find((a) => a.includes("/ws/"));
  if (addr === undefined) throw new Error(`no WebSockets address in ${node.addresses()}`);
  // Subscribing puts the node in the rounds mesh, so its records reach subscribers directly.
  node.subscribe(node.topics.rounds, () => {});

  const info: NetFixtureInfo = {
    addr,
    peerId: node.peerId,
    runId: hex(runId),
    validator: alice.address,
    contributor: bob.address,
    payloadHash,
    payloadBytes: payload.length,
  };
  console.log(JSON.stringify(info));

  // Forgeries still to deliver (with --tamper): each is sent until a peer received it once.
  const forgeries: { name: string; make: (window: number) => Promise<Uint8Array> }[] = tamper
    ? [
      {
        name: "payload hash changed after signing",
        make: async (window) => {
          const bytes = await signMessage(alice, {
            runId,
            timestamp: Date.now(),
            body: roundRecord(window, bob.address, hash),
          });
          // The contributor's payload hash sits after header 80 + window 4 + hashes 64 +
          // count 1 + key 32; flip its first byte.
          bytes[80 + 4 + 64 + 1 + 32] ^= 0x01;
          return bytes;
        },
      },
      {
        name: "signed by a non-validator",
        make: (window) =>
          signMessage(bob, {
            runId,
            timestamp: Date.now(),
            body: roundRecord(window, bob.address, hash),
          }),
      },
    ]
    : [];

  let window = 1;
  let busy = false;
  const tick = async () => {
    if (busy || stopping) return;
    busy = true;
    try {
      for (const f of [...forgeries]) {
        const sent = await node.publish(node.topics.rounds, await f.make(window++));
        if (sent > 0) {
          log(`forged record (${f.name}) sent to ${sent} peer(s)`);
          forgeries.splice(forgeries.indexOf(f), 1);
        }
      }
      const bytes = await signMessage(alice, {
        runId,
        timestamp: Date.now(),
        body: roundRecord(window, bob.address, hash),
      });
      const sent = await node.publish(node.topics.rounds, bytes);
      if (sent > 0) log(`round record of window ${window} sent to ${sent} peer(s)`);
      window++;
    } catch (err) {
      log(`publish failed: ${err instanceof Error ? err.message : err}`);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), TICK_MS);

  try {
    for await (const _ of Deno.stdin.readable) { /* discard */ }
  } catch { /* stdin not readable: rely on signals */ }
  await stop("stdin closed");
}

if (import.meta.main) {
  main(Deno.args).catch((err) => {
    console.error(`net_fixture: ${err instanceof Error ? err.stack : String(err)}`);
    Deno.exit(1);
  });
}
