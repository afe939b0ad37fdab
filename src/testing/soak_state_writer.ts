/**
 * A child process for the kill -9 test (`soak_state_test.ts`): resumes a peer's saved state
 * from a data directory and saves a new one in a loop, as fast as it can, printing
 * `saved <applied>` after each save returns, until it is killed.
 *
 * ```
 * deno run -A src/testing/soak_state_writer.ts DIR
 * ```
 *
 * @module
 */

import { FileStore } from "../cli/file_store.ts";
import { modelHash } from "../codec/model_hash.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { initialParams, type RunContext, runContext } from "../protocol/run_context.ts";
import { RoleState, type SavedState } from "../roles/role_state.ts";

/** //Alice's address (the genesis needs a validator; no key is used). */
const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

/** The run of the writer: the tiny model, so a state is a real peer state (~0.4 MB). */
export function writerContext(): RunContext {
  return runContext(localGenesis({ validators: [ALICE], genesisTime: 1_750_000_000_000 }));
}

/** The state saved as `applied`: θ₀ with its first element set to `applied`, and its error. */
export function writerState(ctx: RunContext, applied: number): SavedState {
  const params = Float32Array.from(initialParams(ctx));
  params[ctx.tensors[0].offset] = applied;
  const error = new Float32Array(ctx.layout.length);
  error[0] = -applied;
  return { applied, lastTrained: applied, params, error };
}

async function main(dir: string): Promise<void> {
  const ctx = writerContext();
  const state = new RoleState(await FileStore.open(dir));
  const saved = await state.load(ctx);
  for (let applied = (saved?.applied ?? -1) + 1;; applied++) {
    const s = writerState(ctx, applied);
    await state.save(ctx, s, await modelHash(s.params));
    console.log(`saved ${applied}`);
  }
}

if (import.meta.main) await main(Deno.args[0]);
