import type { KernelCase } from "./check.ts";

/** cross_entropy kernel cases. */
export const crossEntropyCases: KernelCase[] = [];
