import type { KernelCase } from "./check.ts";

/** rope kernel cases. */
export const ropeCases: KernelCase[] = [];
