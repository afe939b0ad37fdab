/** Every kernel case: run by test/kernels_test.ts under Deno and by web/kernels.ts in Chromium. */
import type { KernelCase } from "./check.ts";
import { residualCases } from "./residual_cases.ts";
import { matmulCases } from "./matmul_cases.ts";
import { matmulF16Cases } from "./matmul_f16_cases.ts";
import { f16ActivationCases } from "./f16_activation_cases.ts";
import { embeddingCases } from "./embedding_cases.ts";
import { rmsnormCases } from "./rmsnorm_cases.ts";
import { ropeCases } from "./rope_cases.ts";
import { attentionCases } from "./attention_cases.ts";
import { swigluCases } from "./swiglu_cases.ts";
import { crossEntropyCases } from "./cross_entropy_cases.ts";
import { adamwCases } from "./adamw_cases.ts";
import { gradClipCases } from "./grad_clip_cases.ts";
import { sparselocoCases } from "./sparseloco_cases.ts";
import { compressorCases } from "./compressor_cases.ts";

export const ALL_CASES: KernelCase[] = [
  ...residualCases,
  ...matmulCases,
  ...matmulF16Cases,
  ...embeddingCases,
  ...rmsnormCases,
  ...ropeCases,
  ...attentionCases,
  ...swigluCases,
  ...crossEntropyCases,
  ...adamwCases,
  ...gradClipCases,
  ...sparselocoCases,
  ...compressorCases,
  ...f16ActivationCases,
];
