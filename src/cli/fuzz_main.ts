/**
 * `deno task fuzz`: runs the update decoder's fuzzer for a while and prints counts.
 *
 * ```
 * deno run -A src/cli/fuzz_main.ts --seconds 60 --seed 1
 * ```
 *
 * Exits 1 if any input did something other than decode canonically or throw `CodecError`,
 * printing the batch seed and input number that reproduce it
 * (`fuzzDecoder({ seed: <batch seed>, inputs: <input + 1> })`); a bad flag also exits 1, with
 * one line.
 *
 * @module
 */

import { mixSeed } from "../util/rng.ts";
import { fuzzDecoder, fuzzSeeds } from "../codec/fuzz.ts";
import { numberFlag, parseFlags, runCli } from "./cli.ts";

const USAGE = "usage: deno task fuzz [--seconds N] [--seed S]";
const BATCH = 2000;

function main(): void {
  const a = parseFlags({
    args: Deno.args,
    options: { seconds: { type: "string" }, seed: { type: "string" } },
    strict: true,
  }, USAGE).values;
  const seconds = numberFlag("seconds", a.seconds, 10, { integer: false, min: 0 });
  const seed = numberFlag("seed", a.seed, 1, { integer: true, min: 0 });
  if (!fuzz(seconds, seed)) Deno.exit(1);
}

/** Fuzzes for `seconds`, printing progress and counts; false when an input failed. */
function fuzz(seconds: number, seed: number): boolean {
  const seeds = fuzzSeeds(seed);
  const t0 = performance.now();
  const totals = { inputs: 0, accepted: 0, rejected: 0, failed: 0, slowestMs: 0 };
  const reasons: Record<string, number> = {};
  let batch = 0;
  let lastReport = t0;
  do {
    const batchSeed = mixSeed(seed, batch);
    const s = fuzzDecoder({ seed: batchSeed, inputs: BATCH, seeds });
    totals.inputs += s.inputs;
    totals.accepted += s.accepted;
    totals.rejected += s.rejected;
    totals.failed += s.failed;
    totals.slowestMs = Math.max(totals.slowestMs, s.slowestMs);
    for (const [r, n] of Object.entries(s.reasons)) reasons[r] = (reasons[r] ?? 0) + n;
    for (const f of s.failures) {
      console.error(`FAIL batch seed ${batchSeed} input ${f.input}: ${f.what}\n  ${f.hex}`);
    }
    batch++;
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now();
      console.log(
        `${((lastReport - t0) / 1000).toFixed(0)} s: ${totals.inputs} inputs, ` +
          `${totals.accepted} accepted, ${totals.rejected} rejected, ${totals.failed} failed`,
      );
    }
  } while (performance.now() - t0 < seconds * 1000);

  const elapsed = (performance.now() - t0) / 1000;
  console.log(
    `fuzz: seed ${seed}, ${elapsed.toFixed(1)} s, ${totals.inputs} inputs ` +
      `(${(totals.inputs / elapsed).toFixed(0)}/s): ${totals.accepted} accepted, ` +
      `${totals.rejected} rejected, ${totals.failed} failed; slowest decode ` +
      `${totals.slowestMs.toFixed(1)} ms`,
  );
  console.log("rejections by reason:");
  for (const [r, n] of Object.entries(reasons).sort((a, b) => b[1] - a[1])) {
    console.log(`  ${String(n).padStart(8)}  ${r}`);
  }
  return totals.failed === 0;
}

if (import.meta.main) await runCli(main);
