import type { KernelCase } from "./check.ts";

/** embedding kernel cases. */
export const embeddingCases: KernelCase[] = [];
