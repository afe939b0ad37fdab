/**
 * The Deno side of test/browser/train.spec.ts: trains with the same corpus, tokenizer, trainLocal
 * and parameters as the training page and prints the losses.
 *
 *   deno run -A test/browser/deno_losses.ts --steps 4 --seed 7 --batch 4 --preset tiny
 *
 * Flags have the page's query-parameter names (workers/train_protocol.ts), plus
 * `--corpus PATH` (default data/kjv_genesis_leviticus.txt). The last stdout line is
 * `LOSSES_JSON {"adapter": "...", "losses": [...]}`. Exits explicitly: Dawn keeps the process alive.
 */
import { openRuntime } from "../../src/kernels/open_runtime.ts";
import { adapterLabel } from "../../src/gpu/device.ts";
import { ByteTokenizer } from "../../src/data/byte_tokenizer.ts";
import { trainLocal } from "../../src/train/train_loop.ts";
import { DEFAULT_CORPUS, readTrainParams, trainOptions } from "../../workers/train_protocol.ts";

/** Prefix of the result line (train.spec.ts looks for the same). */
const RESULT_PREFIX = "LOSSES_JSON ";

function parseFlags(args: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else {
      if (i + 1 >= args.length) throw new Error(`flag ${a} needs a value`);
      flags.set(a.slice(2), args[++i]);
    }
  }
  return flags;
}

async function main(): Promise<number> {
  const flags = parseFlags(Deno.args);
  const known = new Set([
    "preset",
    "steps",
    "seed",
    "batch",
    "lr",
    "warmup",
    "weightDecay",
    "gradClip",
    "corpus",
  ]);
  for (const k of flags.keys()) if (!known.has(k)) throw new Error(`unknown flag --${k}`);
  const opts = trainOptions(readTrainParams((k) => flags.get(k)));
  const corpus = flags.get("corpus") ?? new URL(`../../data/${DEFAULT_CORPUS}`, import.meta.url);
  const tokens = new ByteTokenizer().encode(await Deno.readTextFile(corpus));

  const rt = await openRuntime();
  const adapter = adapterLabel(rt.adapter);
  console.error(`deno_losses: ${adapter}, ${tokens.length} tokens, ${opts.steps} steps`);
  const losses: number[] = [];
  try {
    for await (const r of trainLocal(rt, tokens, opts)) {
      losses.push(r.loss);
      console.error(`  step ${r.step}: loss ${r.loss} (${r.tokensPerSec.toFixed(0)} tok/s)`);
    }
  } finally {
    rt.destroy();
  }
  console.log(RESULT_PREFIX + JSON.stringify({ adapter, losses }));
  return 0;
}

if (import.meta.main) {
  let code = 1;
  try {
    code = await main();
  } catch (e) {
    console.error(`deno_losses: ${e instanceof Error ? e.stack ?? e.message : e}`);
  }
  Deno.exit(code);
}
