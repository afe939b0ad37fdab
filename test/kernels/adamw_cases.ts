import type { KernelCase } from "./check.ts";

/** adamw kernel cases. */
export const adamwCases: KernelCase[] = [];
