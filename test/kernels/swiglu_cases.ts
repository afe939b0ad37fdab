import type { KernelCase } from "./check.ts";

/** swiglu kernel cases. */
export const swigluCases: KernelCase[] = [];
