/**
 * Waiting on role processes in a test: polls a condition until it holds or the test's shared
 * deadline passes, and then fails with what the processes logged last (what a failing run was
 * doing), one place for the swarm, overlap, validators and namespace tests.
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
