/**
 * `deno task export`: a run's model as a Hugging Face folder (see src/export/).
 *
 * ```
 * deno task export --genesis FILE (--checkpoint FILE | --data-dir DIR | --bootstrap MA) --out DIR
 *                  [--valid-sequences N]
 * ```
 *
 * `--checkpoint` takes a checkpoint file (a validator's `<data-dir>/checkpoints/*.safetensors`);
 * `--data-dir` a role's data directory, whose newest model is taken: the newest of its
 * checkpoints and its own saved state (`state.json`); `--bootstrap` a node of the live run (a
 * multiaddr with /p2p/), whose newest checkpoint is fetched over libp2p and checked against the
 * signed round record that made it (src/export/fetch_checkpoint.ts). Either way the model must
 * be of the genesis' run and hash to the model hash it names. `--valid-sequences` (default 16, 0: none)
 * held-out sequences are scored on the CPU for the model card.
 *
 * @module
 */

import { cpuOps } from "../backend/cpu_ops.ts";
import { CheckpointError, decodeCheckpoint } from "../codec/checkpoint.ts";
import { modelHash } from "../codec/model_hash.ts";
import { ExportError } from "../export/export_error.ts";
import { exportFiles } from "../export/export_files.ts";
import { fetchNewestCheckpoint } from "../export/fetch_checkpoint.ts";
import type { ExportMeta } from "../export/hf_folder.ts";
import type { CardFacts } from "../export/model_card.ts";
import { validationLoss } from "../export/validation_loss.ts";
import { createDenoNode } from "../net/deno_node.ts";
import { RecordLog } from "../protocol/record_log.ts";
import { type RunContext, runContext } from "../protocol/run_context.ts";
import { RoleState } from "../roles/role_state.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { hex } from "../util/hex.ts";
import { numberFlag, parseFlags, runCli, UsageError } from "./cli.ts";
import { FileStore } from "./file_store.ts";
import { readGenesisFile, readGenesisRef } from "./genesis_file.ts";
import { loadRunData } from "./run_data.ts";

const USAGE =
  "usage: deno task export --genesis FILE (--checkpoint FILE | --data-dir DIR | --bootstrap MA) --out DIR [--valid-sequences N]";

/** A verified model and where it came from. */
interface Source {
  params: Float32Array;
  meta: ExportMeta;
  from: string;
  history?: CardFacts["history"];
}

async function readOrFail(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).name;
    throw new ExportError(`${path}: cannot read the ${what} (${why})`);
  }
}

async function fromCheckpoint(ctx: RunContext, path: string): Promise<Source> {
  const bytes = await readOrFail(path, "checkpoint");
  try {
    const { params, meta } = await decodeCheckpoint(bytes, ctx.tensors, ctx.layout.length, {
      runId: ctx.runIdHex,
    });
    return { params, meta, from: path };
  } catch (e) {
    if (e instanceof CheckpointError) throw new ExportError(`${path}: ${e.message}`);
    throw e;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The newest checkpoint of the node at multiaddr `ma`, through a client node of our own. */
async function fromNetwork(ctx: RunContext, ma: string): Promise<Source> {
  if (!/\/p2p\/[^/]+$/.test(ma)) {
    throw new UsageError(`--bootstrap ${ma}: needs a multiaddr ending in /p2p/<peer id>`);
  }
  // Gossip is not used: every message is ignored.
  const node = await createDenoNode({
    runId: ctx.runId,
    validate: () => "ignore",
    bootstrapIntervalMs: 0,
  });
  try {
    return { ...(await fetchNewestCheckpoint(node, ctx, ma)), from: ma };
  } finally {
    await node.stop();
  }
}

/** The newest model of a data directory: its newest checkpoint or its saved state. */
async function fromDataDir(ctx: RunContext, dir: string): Promise<Source> {
  if (!(await isDir(dir))) throw new ExportError(`${dir}: no such data directory`);
  const candidates: Source[] = [];
  if (await isDir(`${dir}/checkpoints`)) {
    const names = [...Deno.readDirSync(`${dir}/checkpoints`)]
      .filter((e) => e.isFile && /^\d+\.safetensors$/.test(e.name)).map((e) => e.name).sort();
    if (names.length > 0) {
      candidates.push(await fromCheckpoint(ctx, `${dir}/checkpoints/${names.at(-1)}`));
    }
  }
  const state = await new RoleState(await FileStore.open(dir)).load(ctx);
  if (state !== null) {
    candidates.push({
      params: state.params,
      meta: {
        runId: ctx.runIdHex,
        window: state.applied + 1,
        modelHash: hex(await modelHash(state.params)),
      },
      from: `${dir}/state.json`,
    });
  }
  if (candidates.length === 0) {
    throw new ExportError(
      `${dir}: no checkpoint (checkpoints/*.safetensors) and no saved state (state.json)`,
    );
  }
  const newest = candidates.reduce((a, b) => (b.meta.window > a.meta.window ? b : a));
  // The records that made it (the ones of windows before the model's), for the model card.
  const log = await RecordLog.open(ctx, (await FileStore.open(dir)).sub("records"));
  const made = log.after(-1).filter((r) => r.record.window < newest.meta.window);
  const keys = new Set(made.flatMap((r) => r.record.contributors.map((c) => c.address)));
  return {
    ...newest,
    history: {
      records: made.length,
      contributions: made.reduce((n, r) => n + r.record.contributors.length, 0),
      contributors: keys.size,
    },
  };
}

/** Writes `files` into the new folder `out`: all of them appear at once, or none. */
async function writeFolder(out: string, files: Map<string, string | Uint8Array>): Promise<void> {
  if (await isDir(out)) {
    if ([...Deno.readDirSync(out)].length > 0) {
      throw new ExportError(`${out}: the output folder exists and is not empty`);
    }
  } else {
    try {
      await Deno.stat(out);
      throw new ExportError(`${out}: exists and is not a folder`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const tmp = `${out.replace(/\/+$/, "")}.tmp-${crypto.randomUUID()}`;
  await Deno.mkdir(tmp);
  try {
    for (const [name, data] of files) {
      const slash = name.lastIndexOf("/");
      if (slash > 0) await Deno.mkdir(`${tmp}/${name.slice(0, slash)}`, { recursive: true });
      await writeFileAtomic(`${tmp}/${name}`, data);
    }
    // rename(2) replaces an empty folder and refuses a non-empty one, so a race loses cleanly.
    await Deno.rename(tmp, out);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Runs the export; returns the lines it reports. */
export async function exportMain(args: string[]): Promise<string[]> {
  const { values: v } = parseFlags({
    args,
    options: {
      genesis: { type: "string" },
      checkpoint: { type: "string" },
      "data-dir": { type: "string" },
      bootstrap: { type: "string" },
      out: { type: "string" },
      "valid-sequences": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  }, USAGE);
  if (v.genesis === undefined) throw new UsageError(`--genesis is required (${USAGE})`);
  if (v.out === undefined) throw new UsageError(`--out is required (${USAGE})`);
  if ([v.checkpoint, v["data-dir"], v.bootstrap].filter((x) => x !== undefined).length !== 1) {
    throw new UsageError(`give one of --checkpoint, --data-dir and --bootstrap (${USAGE})`);
  }
  const sequences = numberFlag("valid-sequences", v["valid-sequences"], 16, {
    integer: true,
    min: 0,
  });
  const genesis = await readGenesisFile(v.genesis);
  const ctx = runContext(genesis);
  const src = v.checkpoint !== undefined
    ? await fromCheckpoint(ctx, v.checkpoint)
    : v.bootstrap !== undefined
    ? await fromNetwork(ctx, v.bootstrap)
    : await fromDataDir(ctx, v["data-dir"]!);
  const tokenizerJson = genesis.tokenizer === "bytes"
    ? undefined
    : await readGenesisRef(v.genesis, "tokenizer", genesis.tokenizer);
  const validation = sequences === 0 ? undefined : await validationLoss(
    cpuOps(32),
    genesis.model,
    src.params,
    (await loadRunData(genesis, v.genesis)).valid,
    sequences,
  );
  await writeFolder(v.out, exportFiles(genesis, { ...src, tokenizerJson, validation }));
  return [
    `exported ${src.from}: run ${src.meta.runId.slice(0, 12)}, window ${src.meta.window}, ` +
    `model ${src.meta.modelHash.slice(0, 12)}` +
    (validation === undefined ? "" : `, validation loss ${validation.loss.toFixed(4)}`),
    `wrote ${v.out}`,
  ];
}

if (import.meta.main) {
  await runCli(async () => {
    for (const line of await exportMain(Deno.args)) console.log(line);
  });
}
