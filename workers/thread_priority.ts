/**
 * The OS priority of a training thread (`WEBLOCO_TRAIN_NICE`, read by workers/window_worker.ts;
 * the round bench sets it through `Swarm`'s `trainNice`): a peer's inner steps never rest, and
 * on a shared machine they starved every thread that serves the network — the peer's own
 * (payload requests of the validator timed out) and the validator's. Lowered on this thread
 * only (Linux: `setpriority` on a thread id), the training takes the cores whenever nothing
 * else wants them and gives way to the network threads at once; the bits it computes are the
 * same. Unset or "0": unchanged.
 *
 * @module
 */
import { getPriority, setPriority } from "node:os";

/**
 * Lowers the calling thread's priority by `nice` (an integer 1–19 as text; unset, "" or "0":
 * nothing). Throws on a malformed value; where the OS has no per-thread priority (not
 * Linux) nothing changes.
 */
export function lowerThreadPriority(nice: string | undefined): void {
  if (nice === undefined || nice === "" || nice === "0") return;
  const n = Number(nice);
  if (!Number.isInteger(n) || n < 1 || n > 19) {
    throw new RangeError(`WEBLOCO_TRAIN_NICE must be an integer from 0 to 19, got "${nice}"`);
  }
  if (Deno.build.os !== "linux") return;
  // "/proc/thread-self" links to "<pid>/task/<tid>": the tid names this thread alone.
  const tid = Number(Deno.readLinkSync("/proc/thread-self").split("/").at(-1));
  setPriority(tid, Math.min(19, getPriority(tid) + n));
}
