import type { KernelCase } from "./check.ts";

/** sparseloco kernel cases. */
export const sparselocoCases: KernelCase[] = [];
