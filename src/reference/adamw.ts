/**
 * AdamW reference (PyTorch semantics, decoupled weight decay). Also the CPU trainer's optimizer:
 * it works on float32 state (each element computed in float64, stored back rounded).
 */
import type { Floats } from "./types.ts";

/** AdamW hyper-parameters for one step (PyTorch names and semantics). */
export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for the bias corrections. */
  step: number;
}

/** The per-step constants that the kernel receives as uniforms, computed in float64. */
export interface AdamWConstants {
  /** 1 − lr·wd: decoupled weight decay as a multiplier. */
  decay: number;
  /** lr / (1 − β1^step). */
  stepSize: number;
  /** 1 / sqrt(1 − β2^step). */
  invBc2Sqrt: number;
}

/** Validates `hp` and derives the bias-corrected constants in float64. */
export function adamwConstants(hp: AdamWParams): AdamWConstants {
  if (!Number.isInteger(hp.step) || hp.step < 1) {
    throw new Error(`adamw: step must be a 1-based integer, got ${hp.step}`);
  }
  if (!(hp.beta1 >= 0 && hp.beta1 < 1 && hp.beta2 >= 0 && hp.beta2 < 1)) {
    throw new Error(`adamw: betas must lie in [0, 1), got ${hp.beta1}, ${hp.beta2}`);
  }
  const bc1 = 1 - hp.beta1 ** hp.step;
  const bc2 = 1 - hp.beta2 ** hp.step;
  return {
    decay: 1 - hp.lr * hp.weightDecay,
    stepSize: hp.lr / bc1,
    invBc2Sqrt: 1 / Math.sqrt(bc2),
  };
}

/**
 * One AdamW step over n elements: g = grads·clip[0]; p −= lr·wd·p; m = β1·m + (1−β1)·g;
 * v = β2·v + (1−β2)·g²; p −= lr·(m/(1−β1^step)) / (sqrt(v/(1−β2^step)) + eps).
 * params, grads, m, v: (≥ n); clip: (≥ 1), the gradClip output.
 */
export function adamw(
  params: Floats,
  grads: Floats,
  m: Floats,
  v: Floats,
  clip: Floats,
  n: number,
  hp: AdamWParams,
): void {
  const { decay, stepSize, invBc2Sqrt } = adamwConstants(hp);
  const { beta1, beta2, eps } = hp;
  const scale = clip[0];
  for (let i = 0; i < n; i++) {
    const g = grads[i] * scale;
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    // Read back what was stored so float32 state behaves as on the GPU.
    params[i] = params[i] * decay - stepSize * m[i] / (Math.sqrt(v[i]) * invBc2Sqrt + eps);
  }
}
