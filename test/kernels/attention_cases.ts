import type { KernelCase } from "./check.ts";

/** attention kernel cases. */
export const attentionCases: KernelCase[] = [];
