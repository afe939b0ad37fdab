/**
 * Deno-only: what `deno task genesis` says about a genesis — a readable summary, and every
 * check that can be made on this machine beyond the schema: the run id against the one the
 * operator was given, the files it names (SHA-256, length, tokenizer vocabulary, corpus
 * format) when they are at hand, and whether the model fits the wire's limits.
 *
 * @module
 */

import { corpusFormatOrUndefined } from "../data/corpus.ts";
import { parseHfTokenizer } from "../data/hf_tokenizer.ts";
import { type Genesis, runIdOf } from "../protocol/genesis.ts";
import { genesisLimitProblems, genesisSizes } from "../protocol/genesis_limits.ts";
import { hex } from "../util/hex.ts";
import { genesisRefPath, readGenesisFile, readGenesisRef } from "./genesis_file.ts";
import { genesisFiles } from "./genesis_file_content.ts";

/** The result of {@linkcode checkGenesisFile}. */
export interface GenesisCheck {
  /** The genesis (it passed the schema). */
  genesis: Genesis;
  /** Its run id in hex. */
  runId: string;
  /** One line per problem (none: the genesis is good as far as this machine can tell). */
  problems: string[];
  /** What could not be checked here, and why (a file not at hand is fetched from the run). */
  notes: string[];
}

/**
 * Checks the genesis at `path`: the schema (throws `GenesisError`, one line), then
 * everything else, each problem as one line prefixed with `path`.
 */
export async function checkGenesisFile(
  path: string,
  o: { runId?: string } = {},
): Promise<GenesisCheck> {
  const genesis = await readGenesisFile(path);
  const runId = hex(runIdOf(genesis));
  const problems: string[] = [];
  const notes: string[] = [];
  if (o.runId !== undefined && o.runId.toLowerCase() !== runId) {
    problems.push(`${path}: run id is ${runId}, not ${o.runId}`);
  }
  for (const { field, ref } of genesisFiles(genesis)) {
    if (field !== "tokenizer" && corpusFormatOrUndefined(ref.path) === undefined) {
      problems.push(`${path}: ${field}.path ${JSON.stringify(ref.path)}: not .txt, .jsonl or .bin`);
    }
    const local = genesisRefPath(path, ref);
    if (local === null || !(await Deno.stat(local).then((s) => s.isFile, () => false))) {
      notes.push(`${field} ${JSON.stringify(ref.path)}: not at hand, SHA-256 not checked`);
      continue;
    }
    let bytes: Uint8Array;
    try {
      bytes = await readGenesisRef(path, field, ref);
    } catch (e) {
      problems.push((e as Error).message);
      continue;
    }
    if (field === "tokenizer") {
      try {
        const t = parseHfTokenizer(new TextDecoder().decode(bytes), ref.path);
        if (t.vocabSize !== genesis.model.vocabSize) {
          problems.push(
            `${path}: model.vocabSize ${genesis.model.vocabSize} does not match the tokenizer's ${t.vocabSize}`,
          );
        }
      } catch (e) {
        problems.push(`${path}: tokenizer: ${(e as Error).message}`);
      }
    }
  }
  for (const p of genesisLimitProblems(genesis)) problems.push(`${path}: ${p}`);
  return { genesis, runId, problems, notes };
}

const MIB = 1024 * 1024;

/** A byte count for people: KiB below a MiB. */
function size(n: number): string {
  return n < MIB ? `${(n / 1024).toFixed(1)} KiB` : `${(n / MIB).toFixed(1)} MiB`;
}

/** A few readable lines saying what run `genesis` describes. */
export function summarizeGenesis(genesis: Genesis): string[] {
  const g = genesis, m = g.model, d = g.data, n = g.inner, s = g.sparseloco;
  const z = genesisSizes(g);
  const files = (refs: { path: string; bytes?: number }[]) => {
    const sized = refs.every((r) => r.bytes !== undefined);
    const total = refs.reduce((a, r) => a + (r.bytes ?? 0), 0);
    const names = refs.slice(0, 3).map((r) => r.path).join(", ") + (refs.length > 3 ? ", …" : "");
    return `${refs.length} file(s)${sized ? `, ${size(total)}` : ""}: ${names}`;
  };
  return [
    `run         ${g.name}, id ${hex(runIdOf(g))}`,
    `start       ${new Date(g.genesisTime).toISOString()}, windows of ${g.windowMs} ms`,
    `model       ${m.nLayers} layers, d ${m.dModel}, ${m.nHeads} heads (${m.nKvHeads} kv), ` +
    `ffn ${m.ffnHidden}, context ${m.context}, vocab ${m.vocabSize}: ` +
    `${(z.params / 1e6).toFixed(2)} M parameters, checkpoint ${size(z.checkpointBytes)}`,
    `tokenizer   ${g.tokenizer === "bytes" ? "bytes (256)" : files([g.tokenizer])}`,
    `corpus      ${d.corpus === "default" ? "the embedded default" : files(d.corpus)}`,
    `data        batch ${d.batch} × ${m.context} tokens, seed ${d.seed}, ` +
    `${+(d.validFraction * 100).toFixed(2)}% held out`,
    `inner       AdamW lr ${n.lr} (warm-up ${n.warmup}, cosine to ${n.minRatio}× at ${n.totalSteps}), ` +
    `β ${n.beta1}/${n.beta2}, wd ${n.weightDecay}, clip ${n.gradClip}`,
    `sparseloco  H ${s.H}, k ${s.k} per ${s.maxSide}×${s.maxSide} tile (chunk ${s.chunk}), ` +
    `β ${s.beta}, α ${s.alpha}, ${s.indexMode} indices; an update ≤ ${size(z.updateBytesMax)}`,
    `round       ≤ ${g.maxContributors} contributors, checkpoint every ${g.checkpointInterval} windows` +
    (g.gauntlet === undefined ? "" : `, gauntlet: ${JSON.stringify(g.gauntlet)}`),
    `validators  ${g.validators.join(", ")}`,
    `bootstrap   ${g.bootstrap.length === 0 ? "none" : g.bootstrap.join(", ")}`,
  ];
}
