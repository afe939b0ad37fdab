/**
 * Fixture processes a spec starts (Deno nodes, swarms), stopped after each test whatever
 * happened: SIGTERM lets a fixture stop its roles, SIGKILL follows if it lingers.
 */
import { test } from "@playwright/test";
import type { ChildProcess } from "node:child_process";

/** Registers the afterEach hook; `track` a child to have it stopped (after `graceMs`, SIGKILL). */
export function fixtureChildren(graceMs: number): { track(child: ChildProcess): ChildProcess } {
  const children = new Set<ChildProcess>();
  test.afterEach(async () => {
    await Promise.all([...children].map((c) => stopChild(c, graceMs)));
    children.clear();
  });
  return {
    track(child) {
      children.add(child);
      return child;
    },
  };
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
