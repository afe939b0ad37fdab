/**
 * Whether a genesis' model fits what the wire accepts: its largest possible update payload
 * against the update decoder's limit, its checkpoint against the payload protocol's. A
 * genesis that passes validation can still describe a run whose updates every peer would
 * refuse; `deno task genesis` reports it before anyone joins.
 *
 * @module
 */

import { DEFAULT_MAX_UPDATE_BYTES, UPDATE_HEADER_BYTES } from "../codec/update_codec.ts";
import { paramLayout } from "../model/params.ts";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "../net/protocols.ts";
import { TileGeometry } from "../reference/sparseloco/tiles.ts";
import type { Genesis } from "./genesis.ts";

/** The sizes of a run's model and what it sends. */
export interface GenesisSizes {
  /** Parameters of the model. */
  params: number;
  /** Bytes of θ as float32 (a checkpoint is this plus its header). */
  checkpointBytes: number;
  /** Upper bound of one encoded update (every tile full, indices at their widest). */
  updateBytesMax: number;
}

/** Per-tensor bytes of the update format besides indices and codes (ids, dims, tiles, k, table). */
const TENSOR_FIXED_BYTES = 2 + 1 + 8 + 4 + 16 + 1 + 4;

/** The sizes of `genesis`' model and of its largest update. */
export function genesisSizes(genesis: Genesis): GenesisSizes {
  const layout = paramLayout(genesis.model);
  const s = genesis.sparseloco;
  let update = UPDATE_HEADER_BYTES;
  let params = 0;
  for (const t of layout.entries) {
    const g = TileGeometry.forShape(t.shape, { maxSide: s.maxSide, chunk: s.chunk });
    params += g.numel;
    const kept = g.tileCount * Math.min(s.k, g.fullTileSize);
    // A Rice code is at most one bit longer than the fixed width it is chosen over.
    const indexBits = Math.ceil(Math.log2(g.fullTileSize)) + 1;
    update += TENSOR_FIXED_BYTES + 4 * t.shape.length + Math.ceil(kept * indexBits / 8) +
      Math.ceil(kept / 4);
  }
  return { params, checkpointBytes: 4 * params, updateBytesMax: update };
}

/** One line per limit the model exceeds (none: it fits). */
export function genesisLimitProblems(genesis: Genesis): string[] {
  const z = genesisSizes(genesis);
  const out: string[] = [];
  if (z.updateBytesMax > DEFAULT_MAX_UPDATE_BYTES) {
    out.push(
      `model: an update can take ${z.updateBytesMax} bytes, peers accept at most ` +
        `${DEFAULT_MAX_UPDATE_BYTES} (lower sparseloco.k or the model size)`,
    );
  }
  if (z.checkpointBytes > DEFAULT_MAX_PAYLOAD_BYTES) {
    out.push(
      `model: ${z.params} parameters make a checkpoint of ${z.checkpointBytes} bytes, ` +
        `the payload protocol carries at most ${DEFAULT_MAX_PAYLOAD_BYTES}`,
    );
  }
  return out;
}
