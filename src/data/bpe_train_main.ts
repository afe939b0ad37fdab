/**
 * Trains the byte-level BPE tokenizer that the 20m/125m/1b presets use, from a text corpus:
 *
 *   deno run -A src/data/bpe_train_main.ts [--corpus data/kjv_genesis_leviticus.txt]
 *            [--vocab 4096] [--out data/kjv_bpe_4096.json]
 *
 * With the defaults it rewrites the shipped data/kjv_bpe_4096.json byte for byte
 * (src/data/bpe_train_test.ts checks that).
 *
 * @module
 */
import { writeFileAtomic } from "../util/atomic_write.ts";
import { numberFlag, parseCommandFlags, runCli, UsageError } from "../cli/cli.ts";
import { bpeTokenizerJson, trainBpe } from "./bpe_train.ts";

const USAGE =
  "usage: deno run -A src/data/bpe_train_main.ts [--corpus PATH] [--vocab N] [--out PATH]";

await runCli(async () => {
  const a = parseCommandFlags(Deno.args, {
    corpus: { type: "string", default: "data/kjv_genesis_leviticus.txt" },
    vocab: { type: "string" },
    out: { type: "string", default: "data/kjv_bpe_4096.json" },
  }, USAGE);
  if (a === null) return;
  const vocab = numberFlag("vocab", a.vocab, 4096, { integer: true, min: 256 });
  let text: string;
  try {
    text = await Deno.readTextFile(a.corpus!);
  } catch (e) {
    throw new UsageError(`${a.corpus}: cannot read the corpus (${(e as Error).name})`);
  }
  const t0 = performance.now();
  const bpe = trainBpe(text, vocab);
  await writeFileAtomic(a.out!, bpeTokenizerJson(bpe));
  console.log(
    `wrote ${a.out}: ${bpe.tokens.length} tokens (${bpe.merges.length} merges) from ` +
      `${a.corpus} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
});
