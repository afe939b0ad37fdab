/**
 * The single-process SparseLoCo experiment: R replicas on different shards synchronise every H
 * inner steps, compared at equal tokens and seed with centralized AdamW (R× batch, the same
 * tokens), DiLoCo with dense pseudo-gradients, SparseLoCo in both index modes, and SparseLoCo with
 * the one-window-delayed outer step of an overlapped run (genesis `rounds.outerDelay: 1`):
 * θ_{w+1} = θ_w + A_{w−1}, where A_{w−1} aggregates the updates trained from θ_{w−1}.
 */
import type { Ops } from "../backend/ops.ts";
import type { ModelConfig } from "../model/config.ts";
import { Llama } from "../model/llama.ts";
import { initParams } from "../model/init.ts";
import { Sampler, splitTokens } from "../data/sampler.ts";
import { lrAt } from "../optim/lr_schedule.ts";
import { INNER_DEFAULTS, Trainer } from "../train/trainer.ts";
import { applyAggregate, type PeerUpdate } from "../optim/sparseloco/model_round.ts";
import { compressModel } from "../reference/sparseloco/compress_model.ts";
import { pseudoGradient } from "../reference/sparseloco/pseudo_gradient.ts";
import type { CompressOptions, QuantizedTensor } from "../reference/sparseloco/compress.ts";
import { decodeUpdate, encodeUpdate, type IndexMode } from "../codec/update_codec.ts";
import { modelHash } from "../codec/model_hash.ts";

/** The methods compared. */
export type Method =
  | "centralized"
  | "diloco"
  | "sparseloco"
  | "sparseloco-compact"
  | "sparseloco-delayed";

/** Experiment settings (SPARSELOCO.md defaults where they apply). */
export interface SimulateOptions {
  model: ModelConfig;
  replicas: number;
  /** Inner steps per round. */
  H: number;
  rounds: number;
  /** Sequences per replica per inner step. */
  batch: number;
  seed: number;
  lr: number;
  warmup: number;
  /** Outer learning rate α. */
  alpha: number;
  /** Error-feedback decay β. */
  beta: number;
  /** Entries kept per 4096-element tile (scaled for smaller tiles by the tile geometry). */
  k: number;
  /** Validation batches averaged per evaluation. */
  evalBatches: number;
  methods: Method[];
  /**
   * Data split across replicas. false (default): replica r samples only the r-th contiguous
   * 1/R of the training split (heterogeneous data, as real peers have). true: every replica
   * samples the whole training split, with its own draws (IID). Centralized always trains on
   * exactly the tokens the replicas see, so the comparison stays at equal tokens either way.
   */
  iid?: boolean;
}

/** Defaults: 4 replicas, H = 30 as in the reference run, β 0.95, k 64, α 1. */
export const SIMULATE_DEFAULTS: Omit<SimulateOptions, "model"> = {
  replicas: 4,
  H: 30,
  rounds: 10,
  batch: 4,
  seed: 1,
  lr: 3e-3,
  warmup: 30,
  alpha: 1,
  beta: 0.95,
  k: 64,
  evalBatches: 4,
  methods: ["centralized", "diloco", "sparseloco", "sparseloco-compact", "sparseloco-delayed"],
};

/** One method's outcome. */
export interface MethodResult {
  method: Method;
  /** Validation loss after each round (index 0 = before training), at equal tokens. */
  validLoss: number[];
  /** Tokens seen by all replicas together after each round. */
  tokens: number[];
  /** Mean training loss of each round's inner steps. */
  trainLoss: number[];
  /** Bytes one peer sends per round (null for centralized: it all-reduces every step). */
  bytesPerPeerRound: number | null;
  /**
   * sparseloco-delayed only: the validation loss once the last round's aggregate, still
   * pending at the end, is applied too (the other methods' final θ includes every round's).
   */
  flushedValidLoss?: number;
  seconds: number;
}

/** Progress callback: (method, round, validation loss). */
export type SimulateProgress = (method: Method, round: number, validLoss: number) => void;

/**
 * Runs every requested method and returns their curves and byte counts. `ops` is the backend
 * every model runs on: `gpuOps(runtime)` (WebGPU) or `cpuOps(32)` (the float32 references,
 * the same algorithm; much faster than a software GPU such as SwiftShader for tiny models).
 */
export async function simulate<Tensor>(
  ops: Ops<Tensor>,
  tokens: Uint32Array,
  opts: SimulateOptions,
  progress: SimulateProgress = () => {},
): Promise<{ results: MethodResult[]; params: number; denseBytes: number }> {
  const { train, valid } = splitTokens(tokens);
  const T = opts.model.context, R = opts.replicas;
  const shardLen = Math.floor(train.length / R);
  const shards = Array.from(
    { length: R },
    (_, r) => (opts.iid ? train : train.subarray(r * shardLen, (r + 1) * shardLen)),
  );
  const samplers = shards.map((s) =>
    new Sampler(s, { batch: opts.batch, context: T, seed: opts.seed })
  );
  const validSampler = new Sampler(valid, { batch: opts.batch, context: T, seed: opts.seed });
  const replica = new Llama(ops, opts.model, opts.batch, T);
  const theta0 = initParams(replica.layout, opts.model, opts.seed);
  const schedule = {
    base: opts.lr,
    warmup: opts.warmup,
    total: opts.rounds * opts.H,
    minRatio: 0.1,
  };
  const setup: Setup<Tensor> = { ops, opts, samplers, validSampler, theta0, schedule, progress };
  const results: MethodResult[] = [];
  for (const method of opts.methods) {
    const t0 = performance.now();
    const r = method === "centralized"
      ? await centralized(setup)
      : await federated(setup, replica, method);
    results.push({ ...r, method, seconds: (performance.now() - t0) / 1000 });
  }
  ops.zero(replica.params);
  return { results, params: replica.layout.count, denseBytes: 4 * replica.layout.count };
}

type Schedule = Parameters<typeof lrAt>[1];
type Curves = Omit<MethodResult, "method" | "seconds">;

/** What every method runs from: the same backend, settings, data, θ₀ and schedule. */
interface Setup<Tensor> {
  ops: Ops<Tensor>;
  opts: SimulateOptions;
  /** One training sampler per replica. */
  samplers: Sampler[];
  validSampler: Sampler;
  theta0: Float32Array;
  schedule: Schedule;
  progress: SimulateProgress;
}

async function centralized<Tensor>(
  { ops, opts, samplers, validSampler, theta0, schedule, progress }: Setup<Tensor>,
): Promise<Curves> {
  const R = opts.replicas, T = opts.model.context, BT = opts.batch * T;
  const model = new Llama(ops, opts.model, opts.batch * R, T);
  const evalModel = new Llama(ops, opts.model, opts.batch, T);
  ops.write(model.params, theta0);
  const trainer = new Trainer(ops, model, INNER_DEFAULTS);
  const evalTrainer = new Trainer(ops, evalModel, INNER_DEFAULTS);
  const evalNow = async () => {
    ops.copy(evalModel.params, model.params);
    return await evalTrainer.validationLoss(validSampler, opts.evalBatches);
  };
  const inputs = new Uint32Array(R * BT), targets = new Uint32Array(R * BT);
  const validLoss = [await evalNow()], tokensSeen = [0], trainLoss: number[] = [];
  for (let w = 0; w < opts.rounds; w++) {
    let sum = 0;
    for (let j = 0; j < opts.H; j++) {
      // Exactly the tokens the R replicas see at this step, as one R× batch.
      samplers.forEach((s, r) => {
        const b = s.batch(r, w, j);
        inputs.set(b.inputs, r * BT);
        targets.set(b.targets, r * BT);
      });
      sum += (await trainer.train(inputs, targets, lrAt(w * opts.H + j, schedule))).loss;
    }
    trainLoss.push(sum / opts.H);
    validLoss.push(await evalNow());
    tokensSeen.push((w + 1) * opts.H * R * BT);
    progress("centralized", w + 1, validLoss[w + 1]);
  }
  return { validLoss, tokens: tokensSeen, trainLoss, bytesPerPeerRound: null };
}

async function federated<Tensor>(
  { ops, opts, samplers, validSampler, theta0, schedule, progress }: Setup<Tensor>,
  model: Llama<Tensor>,
  method: Exclude<Method, "centralized">,
): Promise<Curves> {
  const R = opts.replicas, BT = opts.batch * opts.model.context;
  const layout = model.layout.entries;
  // Each replica keeps its own AdamW moments and error feedback across rounds.
  const trainers = Array.from({ length: R }, () => new Trainer(ops, model, INNER_DEFAULTS));
  const errors = Array.from({ length: R }, () => new Float32Array(model.layout.length));
  const compress: Partial<CompressOptions> = { beta: opts.beta, k: opts.k };
  const indexMode: IndexMode = method === "sparseloco" ? 0 : 1;
  const delayed = method === "sparseloco-delayed";
  /** Delayed: the last round's updates, applied after the next round is trained. */
  let pending: PeerUpdate[] | null = null;
  const runId = new Uint8Array(32);
  const theta = Float32Array.from(theta0);
  const evalNow = async () => {
    ops.write(model.params, theta);
    return await trainers[0].validationLoss(validSampler, opts.evalBatches);
  };
  const validLoss = [await evalNow()], tokensSeen = [0], trainLoss: number[] = [];
  let bytes = 0;
  for (let w = 0; w < opts.rounds; w++) {
    const hash = await modelHash(theta);
    const updates: PeerUpdate[] = [];
    const deltas: Float32Array[] = [];
    let sum = 0;
    for (let r = 0; r < R; r++) {
      ops.write(model.params, theta);
      for (let j = 0; j < opts.H; j++) {
        const { inputs, targets } = samplers[r].batch(r, w, j);
        sum += (await trainers[r].train(inputs, targets, lrAt(w * opts.H + j, schedule))).loss;
      }
      const delta = pseudoGradient(theta, await ops.read(model.params));
      if (method === "diloco") {
        deltas.push(delta);
        continue;
      }
      const tensors = compressModel(delta, errors[r], layout, compress) as QuantizedTensor[];
      const wire = encodeUpdate({
        indexMode,
        runId,
        window: w,
        modelHash: hash,
        tensors: tensors.map((t, id) => ({ ...t, id })),
      });
      bytes += wire.length;
      // Aggregate what actually crossed the wire.
      const decoded = decodeUpdate(wire, { expected: { runId, window: w, modelHash: hash } });
      updates.push({ peer: `peer-${r}`, tensors: decoded.tensors });
    }
    if (method === "diloco") {
      for (let i = 0; i < theta.length; i++) {
        let s = 0;
        for (const d of deltas) s += d[i];
        theta[i] = theta[i] - opts.alpha * (s / R);
      }
    } else if (delayed) {
      // The overlapped run: round w's replicas trained from θ_w; θ_{w+1} = θ_w + A_{w−1}.
      if (pending !== null) applyAggregate(theta, layout, pending, { alpha: opts.alpha });
      pending = updates;
    } else {
      applyAggregate(theta, layout, updates, { alpha: opts.alpha });
    }
    trainLoss.push(sum / (R * opts.H));
    validLoss.push(await evalNow());
    tokensSeen.push((w + 1) * opts.H * R * BT);
    progress(method, w + 1, validLoss[w + 1]);
  }
  const perPeerRound = method === "diloco" ? 4 * model.layout.count : bytes / (R * opts.rounds);
  let flushed: { flushedValidLoss: number } | Record<never, never> = {};
  if (pending !== null) {
    applyAggregate(theta, layout, pending, { alpha: opts.alpha });
    flushed = { flushedValidLoss: await evalNow() };
  }
  return { validLoss, tokens: tokensSeen, trainLoss, bytesPerPeerRound: perPeerRound, ...flushed };
}
