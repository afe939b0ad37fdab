import type { KernelCase } from "./check.ts";

/** rmsnorm kernel cases. */
export const rmsnormCases: KernelCase[] = [];
