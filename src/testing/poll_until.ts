/**
 * Waiting on role processes in a test: polls a condition until it holds or its deadline
 * passes, and then fails with what the processes logged last (what a failing run was doing),
 * one place for the swarm, overlap, validators, rediscover and namespace tests. A loaded
 * machine slows process start (4–12 s each on 2 cores at load ~19), not the window clock: so
 * a wait's deadline is best a number of windows counted from when its thing can first happen
 * ({@linkcode windowsAfter}), and a process start gets its own budget ({@linkcode pollSettled}).
 *
 * @module
 */

/** How {@linkcode pollUntil} waits and what its timeout shows. */
export interface PollOptions {
  /** When to give up (ms since the epoch). */
  deadline: number;
  /** The log lines so far (read at the timeout). */
  logs: readonly string[];
  /** How many of the last lines the timeout shows (default 30). */
  tail?: number;
  /** More for the timeout's first line (e.g. what was reached so far). */
  context?: () => string;
}

/**
 * Polls `find` every 200 ms until it returns a value other than `undefined` and `false`, and
 * returns that; throws at the deadline naming `what`, with the last log lines.
 */
export async function pollUntil<T>(
  what: string,
  find: () => T | undefined | false,
  o: PollOptions,
): Promise<T> {
  for (;;) {
    const found = find();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > o.deadline) {
      const more = o.context === undefined ? "" : ` (${o.context()})`;
      throw new Error(
        `timed out waiting for ${what}${more}\n${o.logs.slice(-(o.tail ?? 30)).join("\n")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * `n` windows of the genesis after `from` (ms since the epoch, default now), or after the
 * genesis time when that is later: a deadline counted from when the awaited thing can first
 * happen.
 */
export function windowsAfter(
  genesis: { genesisTime: number; windowMs: number },
  n: number,
  from = Date.now(),
): number {
  return Math.max(from, genesis.genesisTime) + n * genesis.windowMs;
}

/**
 * What `promise` resolves to (a rejection is thrown as it is), or a timeout like
 * {@linkcode pollUntil}'s at the deadline: a process start that never ends fails the test
 * with the last log lines instead of hanging it.
 */
export async function pollSettled<T>(
  what: string,
  promise: Promise<T>,
  o: PollOptions,
): Promise<T> {
  let settled: { value: T } | { error: unknown } | undefined;
  promise.then((value) => settled = { value }, (error) => settled = { error });
  const s = await pollUntil(what, () => settled, o);
  if ("error" in s) throw s.error;
  return s.value;
}
