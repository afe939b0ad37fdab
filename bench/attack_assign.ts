/**
 * Calibration of the assignment test (src/gauntlet/assignment.ts), offline with the real code:
 * per setting (H, batch), per key seed, a few windows of 3 honest peers and one trained on the
 * stream next to its own, all from θ_w with the run's trainer (every peer takes its H steps;
 * θ_{w+1} is the honest peers' aggregate). Each window the paired margins are measured on every
 * inner step's batch (and the previous window's last steps), so any choice of sampled steps can
 * be scored from one run: per variant, the z of each peer and window, and what the selection
 * rule does with them. `--span N` draws every peer's batches of a window from a span of N
 * tokens (genesis `data.span`); `--measure K` measures only what the validator samples (K
 * random steps and 2K unassigned batches from `evaluationBatches`), far cheaper at H 30. Each
 * window also records the held-out loss of θ_w (what span mode costs the model). The last
 * table replays the validator's sample's z through the real PeerBook, record by record, under
 * each admission rule (the burden of proof alone, and with the sequential test).
 * Writes bench/attack_assign.json (`--out`).
 *
 *   deno run -A bench/attack_assign.ts [--seeds 3] [--windows 6] [--settings 4x2,30x4]
 *     [--span 8192] [--measure 8]
 */
import { parseArgs } from "node:util";
import { cpuOps } from "../src/backend/cpu_ops.ts";
import { loadRunData } from "../src/cli/run_data.ts";
import { Sampler } from "../src/data/sampler.ts";
import {
  type AssignmentMargins,
  assignmentMargins,
  spanZ,
  welchZ,
} from "../src/gauntlet/assignment.ts";
import type { Batch } from "../src/gauntlet/loss_check.ts";
import { medianNorms, scaledToNorms, tensorNorms } from "../src/gauntlet/loss_check.ts";
import { KeySigner } from "../src/identity/key_signer.ts";
import { identityReady } from "../src/identity/signer.ts";
import { applyAggregate } from "../src/optim/sparseloco/model_round.ts";
import { PeerBook } from "../src/gauntlet/peer_book.ts";
import { GAUNTLET_DEFAULTS, type GauntletSpec } from "../src/protocol/gauntlet_spec.ts";
import { localGenesis } from "../src/protocol/local_genesis.ts";
import { dataPeerIndex, initialParams, runContext } from "../src/protocol/run_context.ts";
import { evaluationBatches, ModelProbe } from "../src/roles/model_probe.ts";
import { WindowTrainer } from "../src/roles/window_trainer.ts";
import type { QuantizedTensor } from "../src/reference/sparseloco/compress.ts";
import { writeFileAtomic } from "../src/util/atomic_write.ts";
import { mixSeed, Rng } from "../src/util/rng.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    seeds: { type: "string", default: "3" },
    windows: { type: "string", default: "6" },
    settings: { type: "string", default: "4x2,30x4" },
    out: { type: "string", default: "bench/attack_assign.json" },
    span: { type: "string" },
    measure: { type: "string" },
    /** Analyse a file written before instead of measuring. */
    from: { type: "string" },
  },
  strict: true,
}).values;

await identityReady();
/** Previous-window steps measured too (error feedback sends some of them a window late). */
const PREV = 4;
/** Unassigned batches measured (the test uses 2 · assignBatches of them). */
const UNASSIGNED = 16;
/** Validation batches of the held-out loss. */
const VALID = 8;
const span = args.span === undefined ? undefined : Number(args.span);
const measure = args.measure === undefined ? undefined : Number(args.measure);

interface WindowData {
  seed: number;
  window: number;
  /** Held-out loss of θ_w. */
  validLoss?: number;
  /** Per peer (3 honest, then other-data): margins on steps 0..H-1, then PREV previous-window steps. */
  peers: { honest: boolean; own: number[][]; prev: number[][]; unassigned: number[] }[];
}

/** `measure`: only that many random steps were measured (`own` in sampled order, no `prev`). */
type Result = {
  H: number;
  batch: number;
  span?: number;
  measure?: number;
  windows: WindowData[];
  seconds: number;
};
const results: Result[] = [];
for (const setting of args.from === undefined ? args.settings!.split(",") : []) {
  const [H, batch] = setting.split("x").map(Number);
  const t0 = performance.now();
  const windows: WindowData[] = [];
  for (let seed = 0; seed < Number(args.seeds); seed++) {
    const v = KeySigner.fromUri("//Validator");
    const keys = [0, 1, 2, 3].map((i) => KeySigner.fromUri(`//assign-${seed}-${i}`));
    const g = localGenesis({
      validators: [v.address],
      genesisTime: 0,
      sparseloco: { H },
      data: { batch, ...(span === undefined ? {} : { span }) },
    });
    const ctx = runContext(g);
    const data = await loadRunData(g, "local");
    const sampler = new Sampler(data.train, {
      batch,
      context: g.model.context,
      seed: g.data.seed,
      span: g.data.span,
    });
    const valid = new Sampler(data.valid, { batch, context: g.model.context, seed: g.data.seed });
    const validBatches = Array.from({ length: VALID }, (_, i) => valid.evalBatch(i));
    const probe = new ModelProbe(cpuOps(32), g);
    const streams = keys.map((k) => dataPeerIndex(k.publicKey));
    // Peer 3 trains on the stream next to its own: well-formed, helpful, not what it was given.
    const trainers = streams.map((s, i) =>
      new WindowTrainer(ctx, cpuOps(32), sampler, i === 3 ? (s + 1) >>> 0 : s)
    );
    const nobody = dataPeerIndex(v.publicKey);
    let theta = initialParams(ctx);
    for (let w = 0; w < Number(args.windows); w++) {
      const updates: QuantizedTensor[][] = [];
      for (const t of trainers) {
        await t.train(theta, w, Infinity);
        updates.push(await t.compress());
      }
      const norms = updates.map((u) => tensorNorms(u)), clip = medianNorms(norms);
      const prevSteps = w === 0
        ? []
        : Array.from({ length: Math.min(PREV, H) }, (_, i) => H - 1 - i);
      const sampled = (i: number) =>
        evaluationBatches(sampler, H, w, streams[i], nobody, measure!, mixSeed(seed, 0x4e4f4e43));
      const assigned = (i: number): Batch[] =>
        measure !== undefined ? sampled(i).assigned : [
          ...Array.from({ length: H }, (_, s) => sampler.batch(streams[i], w, s)),
          ...prevSteps.map((s) => sampler.batch(streams[i], w - 1, s)),
        ];
      // In span mode each unassigned batch comes from its own window's span (as the validator
      // draws them): from one span, spanZ's between-span variance would be ~0.
      const unassigned = measure !== undefined || span !== undefined
        ? evaluationBatches(
          sampler,
          H,
          w,
          streams[0],
          nobody,
          measure ?? UNASSIGNED / 2,
          mixSeed(seed, 0x4e4f4e43),
        ).unassigned
        : Array.from({ length: UNASSIGNED }, (_, i) => sampler.batch(nobody, w, H + 1000 + i));
      const validLoss = await probe.loss(theta, validBatches);
      const m: Map<string, AssignmentMargins> = await assignmentMargins({
        probe,
        theta,
        layout: ctx.tensors,
        candidates: keys.map((k, i) => ({
          address: k.address,
          tensors: scaledToNorms(updates[i], norms[i], clip),
          assigned: assigned(i),
        })),
        clipNorms: clip,
        step: g.sparseloco.alpha * GAUNTLET_DEFAULTS.evalStep,
        refs: GAUNTLET_DEFAULTS.assignRefs,
        unassigned,
      });
      // Four significant digits: the file stays small, and z moves in the third decimal at most.
      const round = (xs: number[]) => xs.map((x) => Number(x.toPrecision(4)));
      const perBatch = (xs: number[]) =>
        Array.from({ length: xs.length / batch }, (_, b) => xs.slice(b * batch, (b + 1) * batch));
      windows.push({
        seed,
        window: w,
        validLoss: Number(validLoss.toPrecision(5)),
        peers: keys.map((k, i) => {
          const x = m.get(k.address)!, rows = perBatch(round(x.own));
          return {
            honest: i < 3,
            own: rows.slice(0, measure ?? H),
            prev: rows.slice(measure ?? H),
            unassigned: round(x.unassigned),
          };
        }),
      });
      const next = Float32Array.from(theta);
      applyAggregate(
        next,
        ctx.tensors,
        updates.slice(0, 3).map((tensors, i) => ({ peer: `h${i}`, tensors })),
        {
          alpha: g.sparseloco.alpha,
        },
      );
      theta = next;
      const z = windows.at(-1)!.peers.map((p) => welchZ(p.own.flat(), p.unassigned).toFixed(2));
      console.log(
        `H ${H} batch ${batch} seed ${seed} window ${w}: held-out ${
          validLoss.toFixed(4)
        }, Welch z over the measured steps ${z.join(" ")} (${
          ((performance.now() - t0) / 1000).toFixed(0)
        } s)`,
      );
      // Written after every window: a long calibration keeps what it measured when stopped.
      const done = [...results, {
        H,
        batch,
        span,
        measure,
        windows,
        seconds: (performance.now() - t0) / 1000,
      }];
      await writeFileAtomic(
        args.out!,
        JSON.stringify({ date: new Date().toISOString(), results: done }) + "\n",
      );
    }
  }
  results.push({ H, batch, span, measure, windows, seconds: (performance.now() - t0) / 1000 });
}

/** The sampled steps of a variant (`rng` draws the random ones, per peer and window). */
type Steps = (H: number, rng: Rng) => number[];
const VARIANTS: [string, Steps][] = [
  ["4 random steps (today)", (H, rng) => shuffled(H, rng).slice(0, 4)],
  ["8 random steps", (H, rng) => shuffled(H, rng).slice(0, 8)],
  ["first 4 steps", (H) => range(Math.min(4, H))],
  ["last 4 steps", (H) => range(Math.min(4, H)).map((s) => H - 1 - s)],
  ["every step", (H) => range(H)],
];
/** With `measure`: the sampled steps' rows, in sampled order (they are random already). */
const MEASURED: [string, Steps][] = [
  ["4 random steps (today)", () => range(4)],
  ["8 random steps", () => range(8)],
];
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
function shuffled(H: number, rng: Rng): number[] {
  const s = range(H);
  for (let i = H - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [s[i], s[j]] = [s[j], s[i]];
  }
  return s;
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) =>
  Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1));
const share = (xs: boolean[]) => xs.filter((x) => x).length / xs.length;

/**
 * Per setting and variant: each window's z (honest, other-data), and the burden-of-proof rule
 * (`assignPassZ` 1.645 on the combined z of the last 4 tests, one window behind): the share of
 * windows ≥ 1 in which each kind would be selected (window 0 is probation for everyone).
 */
const analysed = args.from === undefined
  ? results
  : (JSON.parse(await Deno.readTextFile(args.from)).results as Result[]);
const rows: string[] = [
  "| H / batch | span | windows (seeds × windows) | steps sampled | honest z: mean (sd) | other-data z: mean (sd) | honest selected (windows ≥ 1) | other-data selected (windows ≥ 1) |",
  "|---|---|---|---|---|---|---|---|",
];
for (const r of analysed) {
  const variants = r.measure === undefined
    ? VARIANTS
    : MEASURED.filter(([, steps]) => steps(r.H, new Rng(0)).length <= r.measure!);
  for (const [name, steps] of variants) {
    const rng = new Rng(1);
    const z = { honest: [] as number[], other: [] as number[] };
    const pass = { honest: [] as boolean[], other: [] as boolean[] };
    const history = new Map<string, number[]>();
    for (const x of r.windows) {
      x.peers.forEach((p, i) => {
        const s = steps(r.H, rng);
        // What the validator computes: spanZ in span mode, Welch's z otherwise.
        const own = s.flatMap((k) => p.own[k]);
        const un = p.unassigned.slice(0, 2 * s.length * r.batch);
        const zi = r.span === undefined ? welchZ(own, un) : spanZ(own, un, r.batch);
        const h = history.get(`${x.seed} ${i}`) ?? [];
        // Record x.window is judged on the tests of the windows before it.
        if (x.window >= 1) {
          const last = h.slice(-GAUNTLET_DEFAULTS.assignWindows);
          pass[p.honest ? "honest" : "other"].push(
            last.reduce((a, b) => a + b, 0) / Math.sqrt(last.length) >= 1.645,
          );
        }
        h.push(zi);
        history.set(`${x.seed} ${i}`, h);
        z[p.honest ? "honest" : "other"].push(zi);
      });
    }
    rows.push(
      `| ${r.H} / ${r.batch} | ${r.span ?? "none"} | ${r.windows.length} | ${name} | ${
        mean(z.honest).toFixed(2)
      } (${sd(z.honest).toFixed(2)}) | ` +
        `${mean(z.other).toFixed(2)} (${sd(z.other).toFixed(2)}) | ${
          (100 * share(pass.honest)).toFixed(0)
        }% | ${(100 * share(pass.other)).toFixed(0)}% |`,
    );
  }
}
console.log(rows.join("\n"));
/**
 * Per record: the share of honest keys (and of other-data keys) the real PeerBook lets into
 * record w, from the z of the validator's sample (4 random steps) of windows < w, under each
 * admission rule: the burden of proof alone, and with the sequential test.
 */
const RULES: [string, Partial<GauntletSpec>][] = [
  ["assignPassZ 1.645", { assignPassZ: 1.645 }],
  ["+ assignSprtMu 1.5", { assignPassZ: 1.645, assignSprtMu: 1.5 }],
  ["+ assignSprtMu 1.5, α 0.01", { assignPassZ: 1.645, assignSprtMu: 1.5, assignSprtAlpha: 0.01 }],
];
const recordRows = [
  "| H / batch | span | rule | honest selected, records 1, 2, … | other-data selected, records 1, 2, … |",
  "|---|---|---|---|---|",
];
for (const r of analysed) {
  const seeds = [...new Set(r.windows.map((x) => x.seed))];
  const W = Math.max(...r.windows.map((x) => x.window)) + 1, k = 4;
  for (const [name, rule] of RULES) {
    const spec = { ...GAUNTLET_DEFAULTS, ...rule };
    const inRec = { honest: Array.from({ length: W }, () => [] as boolean[]), other: Array.from({ length: W }, () => [] as boolean[]) };
    for (const seed of seeds) {
      const book = new PeerBook(spec);
      const ws = r.windows.filter((x) => x.seed === seed).sort((a, b) => a.window - b.window);
      const names = ws[0].peers.map((_, i) => `p${i}`);
      for (const x of ws) {
        book.closeWindow(
          x.window,
          new Map(names.map((a) => [a, { kind: "evaluated" as const, gradScore: 0.01, indicator: null }])),
        );
        x.peers.forEach((p, i) => inRec[p.honest ? "honest" : "other"][x.window].push(book.exclusion(names[i], x.window) === null));
        const zs = x.peers.map((p) => {
          const own = p.own.slice(0, k).flat(), un = p.unassigned.slice(0, 2 * k * r.batch);
          return r.span === undefined ? welchZ(own, un) : spanZ(own, un, r.batch);
        });
        book.assigned(x.window, new Map(names.map((a, i) => [a, zs[i]])));
      }
    }
    const shares = (xs: boolean[][]) => xs.slice(1).map((v) => `${(100 * share(v)).toFixed(0)}%`).join(", ");
    recordRows.push(`| ${r.H} / ${r.batch} | ${r.span ?? "none"} | ${name} | ${shares(inRec.honest)} | ${shares(inRec.other)} |`);
  }
}
console.log(recordRows.join("\n"));
// The cost of the data mode: held-out loss of θ_w (the honest aggregate), mean over seeds.
const lossRows = [
  "| H / batch | span | held-out loss of θ_w, w = 0, 1, … (mean over seeds) |",
  "|---|---|---|",
];
for (const r of analysed) {
  const ws = [...new Set(r.windows.map((x) => x.window))];
  const at = (w: number) =>
    mean(
      r.windows.filter((x) => x.window === w && x.validLoss !== undefined).map((x) => x.validLoss!),
    );
  lossRows.push(
    `| ${r.H} / ${r.batch} | ${r.span ?? "none"} | ${ws.map((w) => at(w).toFixed(4)).join(", ")} |`,
  );
}
console.log(lossRows.join("\n"));
