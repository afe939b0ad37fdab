/**
 * Role processes (`role_main.ts … --json`) inside a {@linkcode NetnsLab}, for the namespace
 * tests: spawns them, collects each one's JSON events by name, and waits for an event with a
 * shared deadline whose timeout shows the last log lines (what a failing run was doing).
 *
 * @module
 */

import type { RoleEvent } from "../roles/role_events.ts";
import type { NetnsHost, NetnsLab, NetnsProcess } from "./netns.ts";
import { pollUntil } from "./poll_until.ts";

/** What role_main prints once its node listens. */
export type Listening = { event: "listening"; peerId: string; addresses: string[] };

/** The role main, for `deno run`. */
export const ROLE_MAIN = new URL("../cli/role_main.ts", import.meta.url).pathname;

/** `deno run` arguments for `main` with `args`. */
export function denoRun(main: string, args: readonly string[]): string[] {
  return ["run", "-A", "--unstable-webgpu", main, ...args];
}

/** The events of named role processes, and waits on them. */
export class RoleWatch {
  /** Log lines and lines that are not JSON, `name: line`. */
  readonly logs: string[] = [];
  readonly #events = new Map<string, (RoleEvent | Listening)[]>();
  readonly #deadline: number;

  /** Every {@linkcode until} fails after `timeoutMs` from now. */
  constructor(timeoutMs: number) {
    this.#deadline = Date.now() + timeoutMs;
  }

  /** The events of `name` so far. */
  events(name: string): (RoleEvent | Listening)[] {
    let list = this.#events.get(name);
    if (list === undefined) this.#events.set(name, list = []);
    return list;
  }

  /** A line sink for process `name`. */
  onLine(name: string): (line: string) => void {
    const list = this.events(name);
    return (line) => {
      try {
        list.push(JSON.parse(line));
      } catch {
        this.logs.push(`${name} ! ${line}`);
      }
      if (line.includes('"event":"log"')) this.logs.push(`${name}: ${line}`);
    };
  }

  /** Polls `find` until it returns a value; throws with the last logs at the deadline. */
  until<T>(what: string, find: () => T | undefined): Promise<T> {
    return pollUntil(what, find, { deadline: this.#deadline, logs: this.logs });
  }

  /** The `listening` event of `name`, once printed. */
  listening(name: string): Listening | undefined {
    return this.events(name).find((e): e is Listening => e.event === "listening");
  }

  /** Starts `role_main.ts role args --backend cpu --json` on `host` as `name`. */
  spawnRole(
    lab: NetnsLab,
    host: NetnsHost,
    name: string,
    role: "peer" | "validator",
    args: readonly string[],
  ): NetnsProcess {
    return lab.spawn(
      host,
      Deno.execPath(),
      denoRun(ROLE_MAIN, [role, ...args, "--backend", "cpu", "--json"]),
      this.onLine(name),
    );
  }
}
