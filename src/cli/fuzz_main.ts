/**
 * `deno task fuzz`: runs the update decoder's fuzzer for a while and prints counts.
 *
 * ```
 * deno run -A src/cli/fuzz_main.ts --seconds 60 --seed 1
 * ```
 *
 * Exits 1 if any input did something other than decode canonically or throw `CodecError`,
 * printing the batch seed and input number that reproduce it
 * (`fuzzDecoder({ seed: <batch seed>, inputs: <input + 1> })`).
 *
 * @module
 */

import { mixSeed } from "../util/rng.ts";
import { fuzzDecoder, fuzzSeeds } from "../codec/fuzz.ts";

function arg(name: string, fallback: number): number {
  const args = Deno.args;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}` && i + 1 < args.length) return Number(args[i + 1]);
    if (args[i].startsWith(`--${name}=`)) return Number(args[i].slice(name.length + 3));
  }
  return fallback;
}

const seconds = arg("seconds", 10);
const seed = arg("seed", 1);
if (!Number.isFinite(seconds) || seconds < 0 || !Number.isInteger(seed)) {
  console.error("usage: fuzz_main.ts [--seconds N] [--seed S]");
  Deno.exit(2);
}

const BATCH = 2000;
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
Deno.exit(totals.failed > 0 ? 1 : 0);
