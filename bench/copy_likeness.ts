/**
 * How alike honest updates are, so that the copy check (src/gauntlet/copies.ts) can tell a copy
 * from two honest peers: offline with the real trainer (tiny model, CPU backend), per setting
 * (H, batch), key seed and inner-step count n (a loaded peer stops before H), a few windows of
 * `--peers` honest peers that each take n steps from θ_w (θ_{w+1} their aggregate; window 0 is
 * θ₀ with zero error feedback). Per window: the likeness of every honest pair; of each update
 * against the previous window's updates (the stale check: its own and the others'); of a fresh
 * joiner (zero error feedback, fresh moments) in the last window against both; and of the
 * attackers' payloads (src/testing/attacker.ts: exact copy, re-noised copy, stale replay)
 * against their victim. Then the verdicts of the fixed thresholds and of the window-baseline
 * rule on every honest pair and every attack. Writes bench/copy_likeness.json (`--out`).
 *
 *   deno run -A bench/copy_likeness.ts [--seeds 3] [--windows 3] [--peers 4]
 *     [--settings 30x4,4x2] [--steps 1,2,4,8,30] [--from bench/copy_likeness.json]
 */
import { parseArgs } from "node:util";
import { cpuOps } from "../src/backend/cpu_ops.ts";
import { loadRunData } from "../src/cli/run_data.ts";
import { Sampler } from "../src/data/sampler.ts";
import {
  copyVerdict,
  type Likeness,
  likeness,
  triangleRows,
  windowBaseline,
} from "../src/gauntlet/copies.ts";
import { KeySigner } from "../src/identity/key_signer.ts";
import { identityReady } from "../src/identity/signer.ts";
import { applyAggregate } from "../src/optim/sparseloco/model_round.ts";
import { GAUNTLET_DEFAULTS, type GauntletSpec } from "../src/protocol/gauntlet_spec.ts";
import { localGenesis } from "../src/protocol/local_genesis.ts";
import { dataPeerIndex, initialParams, runContext } from "../src/protocol/run_context.ts";
import type { QuantizedTensor } from "../src/reference/sparseloco/compress.ts";
import { WindowTrainer } from "../src/roles/window_trainer.ts";
import { renoisedCopy } from "../src/testing/attacker.ts";
import { writeFileAtomic } from "../src/util/atomic_write.ts";
import { Rng } from "../src/util/rng.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    seeds: { type: "string", default: "3" },
    windows: { type: "string", default: "3" },
    peers: { type: "string", default: "4" },
    settings: { type: "string", default: "30x4,4x2" },
    steps: { type: "string", default: "1,2,4,8,30" },
    out: { type: "string", default: "bench/copy_likeness.json" },
    /** Analyse a file written before instead of measuring. */
    from: { type: "string" },
  },
  strict: true,
}).values;

/** Two decimals of likeness are plenty for thresholds; four keep the file small and honest. */
type L = [overlap: number, cosine: number];
const pack = (l: Likeness): L => [Number(l.overlap.toFixed(4)), Number(l.cosine.toFixed(4))];
const unpack = ([overlap, cosine]: L): Likeness => ({ overlap, cosine });
/** The flat pairs (j = 1…, i < j, as recorded) as the lower triangle `alike[j][i]`. */
const triangle = (flat: Likeness[]): Likeness[][] => {
  const rows: Likeness[][] = [[]];
  for (let j = 1, k = 0; k < flat.length; k += j, j++) rows.push(flat.slice(k, k + j));
  return rows;
};

interface WindowData {
  H: number;
  batch: number;
  seed: number;
  steps: number;
  window: number;
  /** Every honest pair (i < j) of the window. */
  pairs: L[];
  /** Each honest update against its own update of the window before (none in window 0). */
  staleOwn: L[];
  /** Each honest update against the other peers' updates of the window before. */
  staleOther: L[];
  /** Last window only: a fresh joiner against this window's peers, and against the window before's. */
  joiner?: { pairs: L[]; previous: L[] };
  /** Peer 0's victim copied exactly, and re-noised as the attacker does, against peer 0. */
  copy: L;
  renoised: L;
  /** The re-noised copy against the other honest peers (what it looks like to them). */
  renoisedOthers: L[];
  /** Peer 0's update of the window before, replayed, against peer 0's of the window before. */
  stale?: L;
}

await identityReady();
const windows: WindowData[] = args.from === undefined
  ? []
  : JSON.parse(await Deno.readTextFile(args.from)).windows;
const P = Number(args.peers), W = Number(args.windows);
const t0 = performance.now();
for (const setting of args.from === undefined ? args.settings!.split(",") : []) {
  const [H, batch] = setting.split("x").map(Number);
  for (const n of args.steps!.split(",").map(Number).filter((n) => n <= H)) {
    for (let seed = 0; seed < Number(args.seeds); seed++) {
      const v = KeySigner.fromUri("//Validator");
      const keys = Array.from(
        { length: P + 1 },
        (_, i) => KeySigner.fromUri(`//copies-${seed}-${i}`),
      );
      const g = localGenesis({
        validators: [v.address],
        genesisTime: 0,
        sparseloco: { H },
        data: { batch },
      });
      const ctx = runContext(g);
      const sampler = Sampler.ofRun((await loadRunData(g, "local")).train, g);
      const trainer = (k: KeySigner) =>
        new WindowTrainer(ctx, cpuOps(32), sampler, dataPeerIndex(k.publicKey));
      const trainers = keys.slice(0, P).map(trainer);
      const rng = new Rng(seed);
      /** n inner steps of window w, as a peer whose deadline comes after its n-th step. */
      const train = async (t: WindowTrainer<unknown>, theta: Float32Array, w: number) => {
        let done = 0;
        await t.train(theta, w, 0, () => done++, () => (done < n ? -Infinity : Infinity));
        return await t.compress();
      };
      let theta = initialParams(ctx);
      let previous: QuantizedTensor[][] = [];
      for (let w = 0; w < W; w++) {
        const updates: QuantizedTensor[][] = [];
        for (const t of trainers) updates.push(await train(t, theta, w));
        const pairs: L[] = [], staleOwn: L[] = [], staleOther: L[] = [];
        for (let j = 1; j < P; j++) {
          for (let i = 0; i < j; i++) pairs.push(pack(likeness(updates[j], updates[i])));
        }
        previous.forEach((p, i) =>
          updates.forEach((u, j) => (i === j ? staleOwn : staleOther).push(pack(likeness(u, p))))
        );
        const noised = renoisedCopy(updates[0], rng);
        const x: WindowData = {
          H,
          batch,
          seed,
          steps: n,
          window: w,
          pairs,
          staleOwn,
          staleOther,
          copy: pack(likeness(updates[0].map((t) => ({ ...t })), updates[0])),
          renoised: pack(likeness(noised, updates[0])),
          renoisedOthers: updates.slice(1).map((u) => pack(likeness(noised, u))),
          ...(w === 0 ? {} : { stale: pack(likeness(previous[0], previous[0])) }),
        };
        if (w === W - 1 && w > 0) {
          const fresh = await train(trainer(keys[P]), theta, w);
          x.joiner = {
            pairs: updates.map((u) => pack(likeness(fresh, u))),
            previous: previous.map((p) => pack(likeness(fresh, p))),
          };
        }
        windows.push(x);
        const next = Float32Array.from(theta);
        applyAggregate(
          next,
          ctx.tensors,
          updates.map((tensors, i) => ({ peer: `h${i}`, tensors })),
          {
            alpha: g.sparseloco.alpha,
          },
        );
        theta = next;
        previous = updates;
        const top = (ls: L[], k: 0 | 1) => Math.max(...ls.map((l) => l[k])).toFixed(3);
        console.log(
          `H ${H} batch ${batch} steps ${n} seed ${seed} window ${w}: honest pairs overlap ≤ ${
            top(pairs, 0)
          }, ` +
            `cosine ≤ ${top(pairs, 1)}; re-noised copy ${x.renoised.join("/")} ` +
            `(${((performance.now() - t0) / 1000).toFixed(0)} s)`,
        );
        // Written after every window: a long run keeps what it measured when stopped.
        await writeFileAtomic(
          args.out!,
          JSON.stringify({ date: new Date().toISOString(), windows }) + "\n",
        );
      }
    }
  }
}

/**
 * The verdicts: per setting, step count and window kind (0: from θ₀ with zero error feedback;
 * later), the largest honest overlap and cosine, and how many honest pairs, stale checks of
 * honest updates and attacks each rule flags (any penalty: halve or worse).
 */
const spec: GauntletSpec = { ...GAUNTLET_DEFAULTS };
/** The fixed thresholds of GAUNTLET.md (the rule before 2026-12-01). */
const fixed: GauntletSpec = { ...spec, copyBaseline: 0 };
const flagged = (l: Likeness, base: Likeness, s: GauntletSpec) =>
  copyVerdict(l, base, s) !== "none";
const max = (xs: number[]) => xs.length === 0 ? NaN : Math.max(...xs);
const rows = [
  "| H / batch | steps | window | pairs | honest overlap: median, max | honest cosine: max | stale (honest vs window before): overlap max, cosine max | joiner vs peers, vs window before: overlap max | re-noised copy: overlap, cosine (min) | honest pairs / stale flagged: fixed rule | new rule | new rule, each pair alone (a window of two) | attacks caught (copy, re-noised, stale): fixed | new |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
];
const groups = new Map<string, WindowData[]>();
for (const x of windows) {
  const key = `${x.H} / ${x.batch}|${x.steps}|${x.window === 0 ? "0" : "≥ 1"}`;
  groups.set(key, [...(groups.get(key) ?? []), x]);
}
for (const [key, xs] of groups) {
  const pairs = xs.flatMap((x) => x.pairs.map(unpack));
  const stale = xs.flatMap((x) => [...x.staleOwn, ...x.staleOther].map(unpack));
  const joiner = xs.flatMap((x) => x.joiner?.previous.map(unpack) ?? []);
  const joinerPairs = xs.flatMap((x) => x.joiner?.pairs.map(unpack) ?? []);
  const count = (s: GauntletSpec) => {
    let honest = 0, caught = 0, attacks = 0;
    for (const x of xs) {
      const base = windowBaseline(triangleRows(triangle(x.pairs.map(unpack))), s);
      honest += [...x.pairs, ...(x.joiner?.pairs ?? [])].filter((l) =>
        flagged(unpack(l), base, s)
      ).length;
      // The stale check's baseline is over every (this window, window before) pair.
      const cross = [...x.staleOwn, ...x.staleOther, ...(x.joiner?.previous ?? [])].map(unpack);
      // One row per comparison (this bench has no hostile keys: the median of the pairs).
      const prevBase = windowBaseline(cross.map((l) => [l]), s);
      honest += cross.filter((l) => flagged(l, prevBase, s)).length;
      for (const a of [x.copy, x.renoised]) {
        attacks++;
        if (flagged(unpack(a), base, s)) caught++;
      }
      if (x.stale !== undefined) {
        attacks++;
        if (flagged(unpack(x.stale), prevBase, s)) caught++;
      }
    }
    return { honest, caught, attacks };
  };
  const f = count(fixed), r = count(spec);
  // A window of two updates: each honest pair, and each stale comparison, judged on its own.
  const alone = [
    ...pairs,
    ...stale,
    ...joiner,
    ...xs.flatMap((x) => x.joiner?.pairs.map(unpack) ?? []),
  ]
    .filter((l) => flagged(l, windowBaseline([[l], [l]], spec), spec)).length;
  const honestChecks = xs.reduce(
    (a, x) =>
      a + x.pairs.length + (x.joiner?.pairs.length ?? 0) + x.staleOwn.length + x.staleOther.length +
      (x.joiner?.previous.length ?? 0),
    0,
  );
  const ov = pairs.map((l) => l.overlap).sort((a, b) => a - b);
  rows.push(
    `| ${key.replaceAll("|", " | ")} | ${pairs.length} | ${ov[(ov.length - 1) >> 1].toFixed(3)}, ${
      max(ov).toFixed(3)
    } | ` +
      `${max(pairs.map((l) => l.cosine)).toFixed(3)} | ${
        stale.length
          ? `${max(stale.map((l) => l.overlap)).toFixed(3)}, ${
            max(stale.map((l) => l.cosine)).toFixed(3)
          }`
          : "–"
      } | ${
        joiner.length
          ? `${max(joinerPairs.map((l) => l.overlap)).toFixed(3)}, ${
            max(joiner.map((l) => l.overlap)).toFixed(3)
          }`
          : "–"
      } | ` +
      `${Math.min(...xs.map((x) => x.renoised[0])).toFixed(3)}, ${
        Math.min(...xs.map((x) => x.renoised[1])).toFixed(3)
      } | ` +
      `${f.honest} of ${honestChecks} | ${r.honest} of ${honestChecks} | ${alone} of ${honestChecks} | ${f.caught} of ${f.attacks} | ${r.caught} of ${r.attacks} |`,
  );
}
console.log(rows.join("\n"));
