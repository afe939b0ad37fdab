/**
 * The terminal view of running roles: one row per role (window, phase, inner step, loss,
 * bytes, contributors), redrawn in place on a terminal, with log lines and finished rounds
 * printed above it. Without a terminal it prints the rows every few seconds instead.
 *
 * @module
 */

import type { RoleEvent, RoleStatus } from "../roles/role_events.ts";

/** `1234` → "1.2 kB". */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(2)} MB`;
}

/** One row of the view. */
export function formatStatus(name: string, s: RoleStatus): string {
  const step = s.role === "peer" ? ` ${String(s.step).padStart(3)}/${s.of}` : "";
  const loss = s.loss === null ? "   —  " : s.loss.toFixed(3).padStart(6);
  return `${name.padEnd(10)} w${String(s.window).padStart(5)}  ${s.phase.slice(0, 30).padEnd(30)}${
    step.padEnd(8)
  }` +
    ` loss ${loss}  round ${String(s.applied).padStart(4)} ${s.modelHash.slice(0, 8)}` +
    `  ↑${formatBytes(s.bytesUp).padStart(8)} ↓${formatBytes(s.bytesDown).padStart(8)}` +
    `  contrib ${s.contributors}  conns ${s.connections}` +
    (s.standing === null ? "" : `  score ${s.standing.score.toFixed(2)} ${s.standing.verdict}`);
}

/** A line for an event other than a status (null: nothing to print). */
export function formatEvent(name: string, e: RoleEvent): string | null {
  switch (e.event) {
    case "log":
      return `${name}: ${e.line}`;
    case "round":
      return `${name}: window ${e.window} · ${e.steps} steps · loss ${e.loss.toFixed(4)} · ` +
        `compute ${(e.computeMs / 1000).toFixed(1)} s · idle ${(e.idleMs / 1000).toFixed(1)} s · ` +
        `↑${formatBytes(e.bytesUp)} ↓${formatBytes(e.bytesDown)}`;
    case "caught-up":
      return `${name}: caught up to round ${e.applied} (${e.records} records, ${
        (e.ms / 1000).toFixed(1)
      } s)`;
    case "applied":
      return e.role === "validator"
        ? `${name}: round ${e.window} · ${e.contributors} contributors · model ${
          e.modelHash.slice(0, 12)
        }`
        : null;
    default:
      return null;
  }
}

/** Rows for several roles, redrawn in place. */
export class LiveView {
  readonly #rows = new Map<string, RoleStatus>();
  readonly #tty: boolean;
  readonly #write: (s: string) => void;
  #drawn = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** `tty`: redraw in place; otherwise rows are printed every `plainEveryMs`. */
  constructor(opts: { tty: boolean; write?: (s: string) => void; plainEveryMs?: number }) {
    this.#tty = opts.tty;
    this.#write = opts.write ?? ((s) => Deno.stdout.writeSync(new TextEncoder().encode(s)));
    this.#timer = setInterval(
      () => this.#tty ? this.#redraw() : this.#plain(),
      this.#tty ? 500 : opts.plainEveryMs ?? 10_000,
    );
  }

  /** Takes one event of the role named `name`. */
  add(name: string, e: RoleEvent): void {
    if (e.event === "status") {
      this.#rows.set(name, e);
      return;
    }
    const line = formatEvent(name, e);
    if (line !== null) this.line(line);
  }

  /** Prints a line above the rows. */
  line(text: string): void {
    this.#clear();
    this.#write(text + "\n");
    if (this.#tty) this.#redraw();
  }

  /** Stops redrawing (leaves the last rows on screen). */
  close(): void {
    clearInterval(this.#timer);
    if (this.#tty) this.#redraw();
    this.#drawn = 0;
  }

  #clear(): void {
    if (!this.#tty || this.#drawn === 0) return;
    this.#write(`\x1b[${this.#drawn}A\x1b[0J`);
    this.#drawn = 0;
  }

  #redraw(): void {
    this.#clear();
    const rows = [...this.#rows].map(([n, s]) => formatStatus(n, s));
    if (rows.length === 0) return;
    this.#write(rows.join("\n") + "\n");
    this.#drawn = rows.length;
  }

  #plain(): void {
    for (const [n, s] of this.#rows) this.#write(formatStatus(n, s) + "\n");
  }
}
