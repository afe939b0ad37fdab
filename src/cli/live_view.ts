/**
 * The terminal view of running roles: a header row, then one row per role (window, phase,
 * inner step, training and validation loss, round, model, bytes of the last round and in
 * all, contributors, connections, standing), redrawn in place on a terminal, with log lines
 * and finished rounds printed above it. Without a terminal it prints the table every few
 * seconds instead. Columns grow to their widest cell and never cut one short.
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

/** The columns of the table: header text, and whether cells align right (numbers). */
export const COLUMNS: readonly { title: string; right: boolean }[] = [
  { title: "role", right: false },
  { title: "window", right: true },
  { title: "phase", right: false },
  { title: "step", right: true },
  { title: "loss", right: true },
  { title: "val loss", right: true },
  { title: "round", right: true },
  { title: "model", right: false },
  { title: "↑ round", right: true },
  { title: "↓ round", right: true },
  { title: "↑ total", right: true },
  { title: "↓ total", right: true },
  { title: "contrib", right: true },
  { title: "conns", right: true },
  { title: "standing", right: false },
];

/** Bytes moved during the last round (between the last two records applied). */
export interface RoundBytes {
  up: number;
  down: number;
}

/** The cells of one role's row, in {@linkcode COLUMNS} order. */
export function statusCells(name: string, s: RoleStatus, round: RoundBytes | null): string[] {
  const dash = "—";
  return [
    name,
    String(s.window),
    s.phase,
    s.role === "peer" ? `${s.step}/${s.of}` : dash,
    s.loss === null ? dash : s.loss.toFixed(3),
    s.validLoss === null ? dash : s.validLoss.toFixed(3),
    String(s.applied),
    s.modelHash.slice(0, 8),
    round === null ? dash : formatBytes(round.up),
    round === null ? dash : formatBytes(round.down),
    formatBytes(s.bytesUp),
    formatBytes(s.bytesDown),
    String(s.contributors),
    String(s.connections),
    s.standing === null ? dash : `${s.standing.score.toFixed(2)} ${s.standing.verdict}`,
  ];
}

/**
 * Rows of cells as aligned text, every column as wide as `widths` (grown in place to fit
 * every cell, so a column never shrinks while the view runs).
 */
export function formatTable(rows: readonly string[][], widths: number[]): string[] {
  for (const r of rows) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, [...c].length));
  return rows.map((r) =>
    r.map((c, i) => {
      const pad = " ".repeat(widths[i] - [...c].length);
      return COLUMNS[i]?.right ? pad + c : c + pad;
    }).join("  ").trimEnd()
  );
}

/** A line for an event other than a status (null: nothing to print). */
export function formatEvent(name: string, e: RoleEvent): string | null {
  switch (e.event) {
    case "log":
      return `${name}: ${e.line}`;
    case "round":
      return `${name}: window ${e.window} · ${e.steps} steps · loss ${e.loss.toFixed(4)} · ` +
        `compute ${(e.computeMs / 1000).toFixed(1)} s · idle ${(e.idleMs / 1000).toFixed(1)} s · ` +
        `this round ↑${formatBytes(e.bytesUp)} ↓${formatBytes(e.bytesDown)}`;
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

/** Rows for several roles under a header, redrawn in place. */
export class LiveView {
  readonly #rows = new Map<string, RoleStatus>();
  /**
   * Per role: cumulative bytes when its last record was applied (or it first showed), and the
   * difference over the last round.
   */
  readonly #rounds = new Map<string, { at: RoundBytes; last: RoundBytes | null }>();
  readonly #widths: number[] = [];
  readonly #tty: boolean;
  readonly #write: (s: string) => void;
  #drawn = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** `tty`: redraw in place; otherwise the table is printed every `plainEveryMs`. */
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
      const before = this.#rows.get(name);
      this.#rows.set(name, e);
      if (before === undefined) {
        this.#rounds.set(name, { at: { up: e.bytesUp, down: e.bytesDown }, last: null });
      } else if (e.applied !== before.applied) this.#roundDone(name, e);
      return;
    }
    const line = formatEvent(name, e);
    if (line !== null) this.line(line);
  }

  /** The table as it would be drawn now: the header row, then one row per role. */
  table(): string[] {
    const rows = [...this.#rows].map(([n, s]) =>
      statusCells(n, s, this.#rounds.get(n)?.last ?? null)
    );
    if (rows.length === 0) return [];
    return formatTable([COLUMNS.map((c) => c.title), ...rows], this.#widths);
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

  #roundDone(name: string, s: RoleStatus): void {
    const now = { up: s.bytesUp, down: s.bytesDown };
    const { at } = this.#rounds.get(name)!;
    this.#rounds.set(name, { at: now, last: { up: now.up - at.up, down: now.down - at.down } });
  }

  #clear(): void {
    if (!this.#tty || this.#drawn === 0) return;
    this.#write(`\x1b[${this.#drawn}A\x1b[0J`);
    this.#drawn = 0;
  }

  #redraw(): void {
    this.#clear();
    const rows = this.table();
    if (rows.length === 0) return;
    this.#write(rows.join("\n") + "\n");
    this.#drawn = rows.length;
  }

  #plain(): void {
    const rows = this.table();
    if (rows.length > 0) this.#write(rows.join("\n") + "\n");
  }
}
