/**
 * The network in Chromium: a browser libp2p node (dist/net.html) dials a Deno peer
 * (test/browser/net_fixture.ts) over WebSockets, receives its signed round records, fetches the
 * named payload by hash and verifies it; with `--tamper` the peer also publishes forged records,
 * which the page's gossip validator must reject and never deliver.
 */
import { expect, type Page, test } from "@playwright/test";
import { fixtureChildren } from "./fixture_children.ts";
import { type ChildProcess, spawn } from "node:child_process";
import type { NetFixtureInfo } from "./net_fixture.ts";
import type { NetPageResult } from "../../web/net_page.ts";

/** Deno start-up, the sr25519 WASM and the update encoding take a few seconds. */
const FIXTURE_TIMEOUT_MS = 60_000;
/** The page's own deadline; the spec waits a little longer so the page reports first. */
const PAGE_TIMEOUT_MS = 45_000;

/** A started fixture, with what it printed to stderr so far (for failure messages). */
interface Fixture {
  info: NetFixtureInfo;
  child: ChildProcess;
  stderr: () => string;
}

/** Fixture processes this spec started; stopped after each test whatever happened. */
const children = fixtureChildren(5_000);

/** Starts the fixture and waits (bounded) for its JSON line. */
function startFixture(args: string[] = []): Promise<Fixture> {
  const child = spawn("node_modules/.bin/deno", [
    "run",
    "-A",
    "test/browser/net_fixture.ts",
    ...args,
  ], {
    // stdin stays open: the fixture exits when it closes, i.e. when this process dies.
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  children.track(child);
  let stdout = "", stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`net_fixture: ${why}\nstdout: ${stdout}\nstderr:\n${stderr}`));
    };
    const timer = setTimeout(
      () => fail(`no JSON line within ${FIXTURE_TIMEOUT_MS / 1000} s`),
      FIXTURE_TIMEOUT_MS,
    );
    child.on("error", (e) => fail(`cannot start node_modules/.bin/deno: ${e.message}`));
    child.on("exit", (code, signal) => fail(`exited with ${code ?? signal} before its JSON line`));
    child.stdout!.on("data", (d) => {
      stdout += d;
      const nl = stdout.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      try {
        resolve({ info: JSON.parse(stdout.slice(0, nl)), child, stderr: () => stderr });
      } catch (e) {
        fail(`bad JSON line: ${(e as Error).message}`);
      }
    });
  });
}

/** Opens dist/net.html for `fixture` and waits for `globalThis.__netResult`. */
async function runPage(
  page: Page,
  fixture: Fixture,
  extra: Record<string, string>,
  logs: string[],
): Promise<NetPageResult> {
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  const { addr, runId, validator } = fixture.info;
  const query = new URLSearchParams({
    addr,
    runId,
    validator,
    timeoutMs: String(PAGE_TIMEOUT_MS),
    ...extra,
  });
  const res = await page.goto(`/net.html?${query}`);
  expect(res?.ok(), `GET /net.html: ${res?.status()} (did \`vite build\` run?)`).toBe(true);
  try {
    await page.waitForFunction(() => globalThis.__netResult !== undefined, undefined, {
      timeout: PAGE_TIMEOUT_MS + 15_000,
      polling: 250,
    });
  } catch (e) {
    const state = await page.evaluate(() => globalThis.__netState).catch(() => undefined);
    throw new Error(
      `net.html did not publish __netResult: ${(e as Error).message.split("\n")[0]}\n` +
        `page state: ${JSON.stringify(state)}\n${context(fixture, logs)}`,
    );
  }
  return (await page.evaluate(() => globalThis.__netResult))!;
}

function context(fixture: Fixture, logs: string[]): string {
  return `\nbrowser console:\n${logs.slice(-30).join("\n")}\nfixture stderr:\n` +
    fixture.stderr().split("\n").slice(-30).join("\n");
}

test("a browser node gets verified round records from a Deno peer and fetches the payload", async ({ page }) => {
  test.setTimeout(FIXTURE_TIMEOUT_MS + PAGE_TIMEOUT_MS + 30_000);
  const fixture = await test.step("start the Deno peer", () => startFixture());
  const logs: string[] = [];
  const out = await test.step("browser node", () => runPage(page, fixture, {}, logs));
  const ctx = `\nresult: ${JSON.stringify(out)}${context(fixture, logs)}`;

  expect(out.error, `the page failed: ${out.error}${ctx}`).toBeUndefined();
  expect(out.records, `no verified round record${ctx}`).toBeGreaterThan(0);
  expect(out.from, `records authored by the Deno peer${ctx}`).toBe(fixture.info.peerId);
  expect(out.sender, `records signed by the run's validator${ctx}`).toBe(fixture.info.validator);
  expect(out.contributor, ctx).toBe(fixture.info.contributor);
  expect(out.recordPayloadHash, `the record names the served payload${ctx}`).toBe(
    fixture.info.payloadHash,
  );
  expect(out.computedHash, `sha256 of the fetched bytes${ctx}`).toBe(fixture.info.payloadHash);
  expect(out.hashOk, ctx).toBe(true);
  expect(out.payloadBytes, `payload size${ctx}`).toBe(fixture.info.payloadBytes);
  expect(out.tensors, `the payload decodes as an update${ctx}`).toBe(3);
  // A clean peer's records are all valid: the validator must not reject good messages.
  expect(out.rejected, `rejections from a clean peer${ctx}`).toEqual([]);
  expect(out.unverifiedDelivered, ctx).toBe(0);
  expect(out.stopped, `the node stopped${ctx}`).toBe(true);
  expect(out.ok, ctx).toBe(true);
  console.log(
    `net: ${out.records} verified record(s), ${out.payloadBytes}-byte payload fetched and ` +
      `verified ${out.fetchedAfterMs} ms after page start`,
  );
});

test("the browser node rejects forged round records and still fetches from valid ones", async ({ page }) => {
  test.setTimeout(FIXTURE_TIMEOUT_MS + PAGE_TIMEOUT_MS + 30_000);
  const fixture = await test.step("start the Deno peer (--tamper)", () =>
    startFixture(["--tamper"]));
  const logs: string[] = [];
  const out = await test.step("browser node", () =>
    runPage(page, fixture, { expectRejections: "2" }, logs));
  const ctx = `\nresult: ${JSON.stringify(out)}${context(fixture, logs)}`;

  expect(out.error, `the page failed: ${out.error}${ctx}`).toBeUndefined();
  const reasons = out.rejected.map((r) => r.reason).sort();
  expect(reasons, `forged records rejected by the gossip validator${ctx}`).toEqual([
    "bad-signature",
    "unauthorized",
  ]);
  expect(out.unverifiedDelivered, `a forged record reached the application${ctx}`).toBe(0);
  expect(out.hashOk && out.ok, `valid records still verified and fetched${ctx}`).toBe(true);
  expect(out.computedHash, ctx).toBe(fixture.info.payloadHash);
  console.log(`net: rejected ${reasons.join(", ")}; ${out.records} valid record(s) accepted`);
});
