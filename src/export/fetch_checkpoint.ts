/**
 * A live run's newest checkpoint, fetched from one node for export and trusted only as far as
 * the run's signatures reach: the node's sync answer names the checkpoint (window, sha256);
 * the payload protocol returns bytes with that sha256; the checkpoint must be of this run and
 * window and hash to the model hash it names; and that model hash must be the
 * `nextModelHash` of the signed round record of the window before (a validator of the genesis
 * signed it), exactly as a role re-syncing from a checkpoint checks it (RoleNode.resync).
 *
 * @module
 */

import { CheckpointError, decodeCheckpoint } from "../codec/checkpoint.ts";
import { NetError } from "../net/errors.ts";
import type { WeblocoNode } from "../net/node.ts";
import type { Provider } from "../net/stream_service.ts";
import { verifyRecord } from "../protocol/record_log.ts";
import type { RunContext } from "../protocol/run_context.ts";
import { MAX_WINDOW } from "../protocol/window_clock.ts";
import { hex } from "../util/hex.ts";
import { ExportError } from "./export_error.ts";
import type { ExportMeta } from "./hf_folder.ts";

/** How long each request may take. */
const TIMEOUT_MS = 30_000;

/** `request`, with a network failure as one ExportError line (the CLI prints it, no stack). */
async function net<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (e) {
    if (e instanceof NetError) throw new ExportError(e.message);
    throw e;
  }
}

/** θ of the newest checkpoint `provider` serves, verified as above; throws ExportError. */
export async function fetchNewestCheckpoint(
  node: WeblocoNode,
  ctx: RunContext,
  provider: Provider,
): Promise<{ params: Float32Array; meta: ExportMeta }> {
  const who = String(provider).slice(-16);
  const head = await net(() => node.sync(provider, MAX_WINDOW, { timeoutMs: TIMEOUT_MS }));
  const cp = head.checkpoint;
  if (cp === null || cp.window === 0) {
    throw new ExportError(`${who}: serves no checkpoint of this run yet (only θ₀)`);
  }
  const bytes = await net(() => node.fetch(cp.hash, [provider], { timeoutMs: TIMEOUT_MS }));
  let decoded: Awaited<ReturnType<typeof decodeCheckpoint>>;
  try {
    decoded = await decodeCheckpoint(bytes, ctx.tensors, ctx.layout.length, {
      runId: ctx.runIdHex,
      window: cp.window,
    });
  } catch (e) {
    if (e instanceof CheckpointError) {
      throw new ExportError(`${who}: checkpoint of window ${cp.window}: ${e.message}`);
    }
    throw e;
  }
  const records = await net(() => node.sync(provider, cp.window - 1, { timeoutMs: TIMEOUT_MS }));
  const made = records.records
    .map((b) => verifyRecord(ctx, b))
    .find((r) => typeof r !== "string" && r.record.window === cp.window - 1);
  if (made === undefined || typeof made === "string") {
    throw new ExportError(
      `${who}: no signed round record of window ${cp.window - 1} to check the checkpoint against`,
    );
  }
  if (hex(made.record.nextModelHash) !== decoded.meta.modelHash) {
    throw new ExportError(
      `${who}: checkpoint of window ${cp.window} is not what the signed record ${
        cp.window - 1
      } made`,
    );
  }
  return { params: decoded.params, meta: decoded.meta };
}
