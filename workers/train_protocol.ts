/**
 * What the training page, its worker and the Deno reference run (test/browser/deno_losses.ts)
 * share: the run parameters (URL query or command line, same names), how they become
 * `TrainOptions`, and the messages between page and worker.
 */
import { DEFAULT_TRAIN, type StepReport, type TrainOptions } from "../src/train/train_loop.ts";
import { presetConfig } from "../src/model/config.ts";

/** The corpus in data/ that a run uses unless told otherwise. */
export const DEFAULT_CORPUS = "kjv_genesis_leviticus.txt";

/** Numeric TrainOptions fields that a query parameter / flag of the same name overrides. */
export const NUMERIC_PARAMS = [
  "steps",
  "seed",
  "batch",
  "lr",
  "warmup",
  "weightDecay",
  "gradClip",
] as const;
type NumericParam = typeof NUMERIC_PARAMS[number];

/** Run parameters as given by a person: anything left out comes from DEFAULT_TRAIN / PRESETS.tiny. */
export type TrainParams = { preset?: string } & { [K in NumericParam]?: number };

/** Reads TrainParams from named string values (URLSearchParams.get or parsed flags). */
export function readTrainParams(get: (name: string) => string | null | undefined): TrainParams {
  const out: TrainParams = {};
  const preset = get("preset");
  if (preset) out.preset = preset;
  for (const k of NUMERIC_PARAMS) {
    const raw = get(k);
    if (raw === null || raw === undefined || raw === "") continue;
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new Error(`parameter ${k} must be a number, got "${raw}"`);
    out[k] = v;
  }
  return out;
}

/** Full options for trainLocal: DEFAULT_TRAIN, the preset's model, then the given overrides. */
export function trainOptions(p: TrainParams): TrainOptions {
  const opts: TrainOptions = { ...DEFAULT_TRAIN, model: presetConfig(p.preset ?? "tiny") };
  for (const k of NUMERIC_PARAMS) {
    const v = p[k];
    if (v !== undefined) opts[k] = v;
  }
  for (const k of ["steps", "batch", "seed"] as const) {
    if (!Number.isInteger(opts[k]) || opts[k] < 0 || (k !== "seed" && opts[k] === 0)) {
      throw new Error(
        `${k} must be a ${k === "seed" ? "non-negative" : "positive"} integer, got ${opts[k]}`,
      );
    }
  }
  return opts;
}

/** Page → worker: train on this text with these parameters. */
export interface TrainRequest {
  text: string;
  options: TrainParams;
}

/** Worker → page. */
export type TrainMessage =
  | { type: "adapter"; adapter: string }
  | { type: "start"; options: TrainOptions; tokens: number }
  | { type: "step"; report: StepReport }
  | { type: "done" }
  | { type: "error"; message: string };

/** What the page publishes as `window.__trainResults` when the run ends. */
export interface TrainPageResults {
  adapter: string | null;
  losses: number[];
  reports: StepReport[];
  error?: string;
}
