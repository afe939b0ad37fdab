/**
 * `deno task fuzz`: runs the fuzz targets (every decoder that faces the network or the disk,
 * `src/testing/fuzz_targets.ts`) and prints counts per target.
 *
 * ```
 * deno task fuzz --target all --inputs 1000000 --seed 1 --json bench/fuzz.json
 * deno task fuzz --target update --inputs 20000
 * ```
 *
 * `--inputs` is the total, split evenly across the targets run. Inputs run in batches of 2000, batch b with seed
 * `mixSeed(seed, b)`. Exits 1 if any input crashed, was refused without a clear error or hung,
 * printing the target, batch seed and input number that reproduce it
 * (`fuzzTarget(target, { seed: <batch seed>, inputs: <input + 1> })`); a bad flag or an
 * unknown target also exits 1, with one line.
 *
 * @module
 */

import { mixSeed } from "../util/rng.ts";
import { emptyStats, type FuzzStats, fuzzTarget, HANG_MS } from "../codec/fuzz.ts";
import { FUZZ_TARGETS, fuzzTargetNamed } from "../testing/fuzz_targets.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { numberFlag, parseFlags, runCli, UsageError } from "./cli.ts";

const USAGE =
  "usage: deno task fuzz [--target NAME|all] [--inputs N (in all)] [--seed S] [--json PATH]";
const BATCH = 2000;

async function main(): Promise<void> {
  const a = parseFlags({
    args: Deno.args,
    options: {
      target: { type: "string" },
      inputs: { type: "string" },
      seed: { type: "string" },
      json: { type: "string" },
    },
    strict: true,
  }, USAGE).values;
  const inputs = numberFlag("inputs", a.inputs, 10_000, { integer: true, min: 1 });
  const seed = numberFlag("seed", a.seed, 1, { integer: true, min: 0 });
  const name = a.target ?? "all";
  let targets;
  try {
    targets = name === "all" ? FUZZ_TARGETS : [fuzzTargetNamed(name)];
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const t0 = performance.now();
  const results: FuzzStats[] = [];
  const each = Math.ceil(inputs / targets.length);
  for (const target of targets) results.push(await fuzzOne(target, each, seed));
  const seconds = (performance.now() - t0) / 1000;

  console.log(`\nfuzz: seed ${seed}, ${each} inputs per target, ${seconds.toFixed(0)} s`);
  console.log(
    "target                     inputs   accepted   rejected  failed   inputs/s  slowest ms",
  );
  for (const r of results) {
    console.log(
      `${r.target.padEnd(24)} ${String(r.inputs).padStart(8)} ${String(r.accepted).padStart(10)} ` +
        `${String(r.rejected).padStart(10)} ${String(r.failed).padStart(7)} ` +
        `${rate(r).toFixed(0).padStart(10)} ${r.slowestMs.toFixed(1).padStart(11)}`,
    );
  }
  if (a.json !== undefined) {
    const report = {
      date: new Date().toISOString().slice(0, 10),
      command: `deno task fuzz --target ${name} --inputs ${inputs} --seed ${seed}`,
      machine: `${navigator.hardwareConcurrency} CPU threads (shared), Deno ${Deno.version.deno}`,
      seconds: Math.round(seconds),
      inputsPerTarget: each,
      hangMs: HANG_MS,
      totals: {
        inputs: results.reduce((n, r) => n + r.inputs, 0),
        failed: results.reduce((n, r) => n + r.failed, 0),
      },
      targets: results.map((r) => ({
        target: r.target,
        about: targets.find((t) => t.name === r.target)!.about,
        inputs: r.inputs,
        accepted: r.accepted,
        rejected: r.rejected,
        failed: r.failed,
        inputsPerSecond: Math.round(rate(r)),
        slowestMs: Number(r.slowestMs.toFixed(2)),
        longestMessage: r.longestMessage,
        topReasons: Object.entries(r.reasons).sort((x, y) => y[1] - x[1]).slice(0, 5),
        failures: r.failures,
      })),
    };
    await writeFileAtomic(a.json, JSON.stringify(report, null, 2) + "\n");
    console.log(`wrote ${a.json}`);
  }
  if (results.some((r) => r.failed > 0)) Deno.exit(1);
}

function rate(r: FuzzStats): number {
  return r.inputs / Math.max(r.elapsedMs / 1000, 1e-9);
}

/** Fuzzes one target in batches, printing failures as they come and progress every 10 s. */
async function fuzzOne(
  target: (typeof FUZZ_TARGETS)[number],
  inputs: number,
  seed: number,
): Promise<FuzzStats> {
  const seeds = await target.seeds();
  const total = emptyStats(target.name);
  let last = performance.now();
  for (let batch = 0; total.inputs < inputs; batch++) {
    const batchSeed = mixSeed(seed, batch);
    const n = Math.min(BATCH, inputs - total.inputs);
    const s = await fuzzTarget(target, { seed: batchSeed, inputs: n, seeds });
    total.inputs += s.inputs;
    total.accepted += s.accepted;
    total.rejected += s.rejected;
    total.failed += s.failed;
    total.elapsedMs += s.elapsedMs;
    total.slowestMs = Math.max(total.slowestMs, s.slowestMs);
    total.longestMessage = Math.max(total.longestMessage, s.longestMessage);
    for (const [r, k] of Object.entries(s.reasons)) total.reasons[r] = (total.reasons[r] ?? 0) + k;
    for (const f of s.failures) {
      console.error(
        `FAIL ${target.name} batch seed ${batchSeed} input ${f.input}: ${f.what}\n  ${f.hex}`,
      );
      if (total.failures.length < 20) total.failures.push({ ...f, input: f.input });
    }
    if (performance.now() - last > 10_000) {
      last = performance.now();
      console.log(`  ${target.name}: ${total.inputs} inputs, ${total.failed} failed`);
    }
  }
  console.log(
    `${target.name}: ${total.inputs} inputs (${rate(total).toFixed(0)}/s), ${total.accepted} ` +
      `accepted, ${total.rejected} rejected, ${total.failed} failed; slowest ` +
      `${total.slowestMs.toFixed(1)} ms`,
  );
  return total;
}

if (import.meta.main) await runCli(main);
