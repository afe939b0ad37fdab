import type { KernelCase } from "./check.ts";

/** matmul kernel cases. */
export const matmulCases: KernelCase[] = [];
