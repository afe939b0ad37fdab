/**
 * What the volunteer-page specs share: the run fixture (test/browser/run_fixture.ts, a
 * validator and 2 Deno peers as processes on 127.0.0.1) and polling the page's state.
 */
import type { Page } from "@playwright/test";
import type { fixtureChildren } from "./fixture_children.ts";
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import type { RunFixtureInfo } from "./run_fixture.ts";
import type { PeerPageState } from "../../workers/peer_protocol.ts";
import type { AppliedEvent, RoleEvent, RoundEvent } from "../../src/roles/role_events.ts";

/** Deno start-up, three processes, the sr25519 WASM. */
export const FIXTURE_TIMEOUT_MS = 90_000;

/** A started fixture: its info, every role event so far, its stderr tail. */
export interface Fixture {
  info: RunFixtureInfo;
  child: ChildProcess;
  events: { name: string; e: RoleEvent }[];
  stderr: () => string;
}

/**
 * Starts test/browser/run_fixture.ts (a validator and 2 Deno peers), stopped after the test
 * through `children` whatever happened.
 */
export function startFixture(children: ReturnType<typeof fixtureChildren>): Promise<Fixture> {
  const child = spawn("node_modules/.bin/deno", ["run", "-A", "test/browser/run_fixture.ts"], {
    // stdin stays open: the fixture exits when it closes, i.e. when this process dies.
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  children.track(child);
  const events: Fixture["events"] = [];
  let rest = "", stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`run_fixture: ${why}\nstderr:\n${tail(stderr, 40)}`));
    };
    const timer = setTimeout(
      () => fail(`no info line within ${FIXTURE_TIMEOUT_MS / 1000} s`),
      FIXTURE_TIMEOUT_MS,
    );
    child.on("error", (e) => fail(`cannot start node_modules/.bin/deno: ${e.message}`));
    child.on("exit", (code, signal) => fail(`exited with ${code ?? signal} before its info line`));
    child.stdout!.on("data", (d) => {
      const lines = (rest + d).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        const o = JSON.parse(line);
        if (o.info === undefined) {
          events.push(o);
          continue;
        }
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve({ info: o.info, child, events, stderr: () => stderr });
      }
    });
  });
}

export function tail(text: string, n: number): string {
  return text.split("\n").slice(-n).join("\n");
}

export async function pageState(page: Page): Promise<PeerPageState> {
  return await page.evaluate(() => globalThis.__peer);
}

/** Polls `cond` on the page state every second until it holds, or fails with `what`. */
export async function until(
  page: Page,
  what: string,
  timeoutMs: number,
  cond: (s: PeerPageState) => boolean,
  context: () => string,
): Promise<PeerPageState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await pageState(page);
    if (s.error !== undefined) throw new Error(`the page failed: ${s.error}${context()}`);
    if (cond(s)) return s;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs / 1000} s waiting for ${what}\nstatus: ${
          JSON.stringify(s.status)
        }\npage log:\n${s.logs.slice(-20).join("\n")}${context()}`,
      );
    }
    await page.waitForTimeout(1000);
  }
}

export const applied = (s: PeerPageState) =>
  s.events.filter((e): e is AppliedEvent => e.event === "applied");
export const rounds = (s: PeerPageState) =>
  s.events.filter((e): e is RoundEvent => e.event === "round");

/** The records the fixture's validator applied so far, in order. */
export function validatorRecords(fx: Fixture): AppliedEvent[] {
  return fx.events.filter((x) => x.name === "validator" && x.e.event === "applied")
    .map((x) => x.e as AppliedEvent);
}

/**
 * Waits until the tab has trained `windows` windows and `selected` of the validator's
 * records select its address (`who` names it in the timeout message).
 */
export function untilSelected(
  page: Page,
  fx: Fixture,
  want: { windows: number; selected: number; who: string; timeoutMs: number },
  context: () => string,
): Promise<PeerPageState> {
  return until(
    page,
    `${want.windows} trained windows and ${want.selected} records selecting ${want.who}`,
    want.timeoutMs,
    (s) =>
      s.address !== undefined && rounds(s).length >= want.windows &&
      validatorRecords(fx).filter((r) => r.selected.includes(s.address!)).length >=
        want.selected,
    context,
  );
}

/**
 * Prints tokens/s of the tab vs the Deno peers (the same windows), and how the tab spends a
 * window; with `WEBLOCO_BENCH_JSON=FILE` also writes them there (bench/browser_peer.json).
 */
export function peerReport(s: PeerPageState, fx: Fixture, source: string): void {
  const speed = (rs: RoundEvent[]) => {
    const steps = rs.reduce((n, r) => n + r.steps, 0);
    const ms = rs.reduce((n, r) => n + r.computeMs, 0);
    return steps * fx.info.tokensPerStep / (ms / 1000);
  };
  const tab = rounds(s);
  // The same windows: the cores are shared by every role, so contention differs by window.
  const windows = new Set(tab.map((r) => r.window));
  const deno = fx.events.filter((x) => x.name.startsWith("peer-") && x.e.event === "round")
    .map((x) => x.e as RoundEvent).filter((r) => windows.has(r.window));
  const avg = (rs: RoundEvent[], f: (r: RoundEvent) => number) =>
    rs.reduce((n, r) => n + f(r), 0) / rs.length;
  // applyMs is only meaningful when the record came through the round loop; one applied during
  // a catch-up reads as "now − 0" (src/roles/peer.ts). Such values exceed the idle time.
  const timed = tab.filter((r) => r.applyMs <= r.idleMs);
  const w = fx.info.windowMs;
  console.log(
    `speed (CPU reference both): tab ${speed(tab).toFixed(0)} tokens/s over ${tab.length} ` +
      `windows, Deno peers ${speed(deno).toFixed(0)} tokens/s over ${deno.length} peer-windows`,
  );
  const pct = (ms: number) => `${(100 * ms / w).toFixed(0)}%`;
  console.log(
    `tab per ${w / 1000} s window: ${avg(tab, (r) => r.steps).toFixed(1)} of ${fx.info.H} ` +
      `steps, training ${pct(avg(tab, (r) => r.computeMs))}, fetch + aggregate + check ${
        pct(avg(timed, (r) => r.applyMs))
      } (${timed.length} windows), idle incl. waiting for the record ${
        pct(avg(tab, (r) => r.idleMs))
      }; ` +
      `${Math.round(avg(tab, (r) => r.bytesUp))} B up, ${
        Math.round(avg(tab, (r) => r.bytesDown))
      } B down`,
  );
  for (const r of tab) {
    console.log(
      `  window ${r.window}: ${r.steps} steps in ${
        r.computeMs.toFixed(0)
      } ms, idle ${r.idleMs} ms` +
        ` (apply ${r.applyMs <= r.idleMs ? `${r.applyMs} ms` : "not timed"})`,
    );
  }
  const out = process.env.WEBLOCO_BENCH_JSON;
  if (out) {
    const result = {
      date: new Date().toISOString().slice(0, 10),
      source,
      backend: s.backend,
      windowMs: w,
      H: fx.info.H,
      tokensPerStep: fx.info.tokensPerStep,
      tab: {
        windows: tab.length,
        tokensPerSecond: speed(tab),
        steps: avg(tab, (r) => r.steps),
        trainingShare: avg(tab, (r) => r.computeMs) / w,
        fetchAggregateShare: timed.length > 0 ? avg(timed, (r) => r.applyMs) / w : null,
        idleShare: avg(tab, (r) => r.idleMs) / w,
        bytesUp: avg(tab, (r) => r.bytesUp),
        bytesDown: avg(tab, (r) => r.bytesDown),
        share: s.share ?? null,
      },
      deno: { peerWindows: deno.length, tokensPerSecond: speed(deno) },
    };
    writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
  }
}
