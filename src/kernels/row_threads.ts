/**
 * Threads per row workgroup (a row kernel's WG override): about 4 elements per thread, a power of
 * two in [32, 256], so that short rows do not leave most of a 256-thread workgroup idle (idle
 * invocations and their barriers are what software adapters pay for).
 */
export function rowThreads(len: number): number {
  return Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(len / 4))))));
}
