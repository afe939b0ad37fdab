/**
 * One SparseLoCo round from seeded inputs, end to end through the wire format, summarised as the
 * SHA-256 of the new parameters. Deno and Chromium must print the same digest: aggregation and
 * the outer step are plain TypeScript on Float32Arrays, so every engine must agree bit for bit.
 */
import { Rng } from "../../src/util/rng.ts";
import { applyAggregate, type PeerUpdate } from "../../src/optim/sparseloco/model_round.ts";
import { compressModel, type TensorEntry } from "../../src/reference/sparseloco/compress_model.ts";
import type { QuantizedTensor } from "../../src/reference/sparseloco/compress.ts";
import { decodeUpdate, encodeUpdate } from "../../src/codec/update_codec.ts";
import { hex } from "../../src/util/hex.ts";
import { modelHash } from "../../src/codec/model_hash.ts";

const LAYOUT: TensorEntry[] = [
  { name: "model.embed_tokens.weight", offset: 0, shape: [96, 64] },
  { name: "model.layers.0.self_attn.q_proj.weight", offset: 6144, shape: [64, 100] },
  { name: "model.norm.weight", offset: 12544, shape: [70] },
];
const LENGTH = 12544 + 70;
const PEERS = 5;

/** Digest of θ after one round of PEERS peers; `reverse` feeds the updates in reverse order. */
export async function roundDigest(reverse = false): Promise<string> {
  const rng = new Rng(2026);
  const theta = rng.normals(LENGTH, 0.02);
  const runId = new Uint8Array(32).fill(7);
  const hash = await modelHash(theta);
  const updates: PeerUpdate[] = [];
  for (let p = 0; p < PEERS; p++) {
    // Peers move by different amounts, so that median-norm clipping bites.
    const delta = rng.normals(LENGTH, 1e-3 * (p + 1));
    const error = new Float32Array(LENGTH);
    const tensors = compressModel(delta, error, LAYOUT) as QuantizedTensor[];
    const wire = encodeUpdate({ runId, window: 3, modelHash: hash, tensors: tensors.map((t, id) => ({ ...t, id })) });
    updates.push({ peer: `peer-${p}`, tensors: decodeUpdate(wire).tensors });
  }
  if (reverse) updates.reverse();
  applyAggregate(theta, LAYOUT, updates, { alpha: 1 });
  return hex(await modelHash(theta));
}
