import type { ModelConfig } from "./config.ts";
import type { ParamLayout } from "./params.ts";
import { Rng } from "../util/rng.ts";

/**
 * Initial parameters (GPT-2 / LLaMA practice): matrices N(0, 0.02), the projections that write
 * into the residual stream (o_proj, down_proj) scaled by 1/sqrt(2·layers), norm gains 1.
 */
export function initParams(layout: ParamLayout, config: ModelConfig, seed: number): Float32Array {
  const out = new Float32Array(layout.length);
  const rng = new Rng(seed);
  const residualStd = 0.02 / Math.sqrt(2 * config.nLayers);
  for (const e of layout.entries) {
    const t = out.subarray(e.offset, e.offset + e.size);
    if (e.shape.length === 1) {
      t.fill(1);
      continue;
    }
    const std = /o_proj|down_proj/.test(e.name) ? residualStd : 0.02;
    for (let i = 0; i < t.length; i++) t[i] = rng.normal() * std;
  }
  return out;
}
