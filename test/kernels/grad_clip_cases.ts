import type { KernelCase } from "./check.ts";

/** grad_clip kernel cases. */
export const gradClipCases: KernelCase[] = [];
