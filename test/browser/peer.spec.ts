/**
 * A Chromium tab is a real peer of a run: test/browser/run_fixture.ts starts a validator and
 * two Deno peers (separate processes on 127.0.0.1); the tab opens dist/peer.html with the run
 * link (genesis, the validator's WebSocket address, the run id), presses Start and runs the
 * same peer role as `deno task peer` in a Web Worker.
 *
 * 1. Links with another run id or an unreachable bootstrap are refused with their reason.
 * 2. The tab trains ≥ 3 windows, its updates are selected in ≥ 2 of the validator's records,
 *    and it holds the validator's model hash after every record it applied.
 * 3. A reload resumes from IndexedDB: same key, the saved head, only the records since
 *    fetched; the key exports as a key file that Deno reads.
 * 4. A second tab on the same key is refused (it would equivocate).
 * 5. The tab stops mid-window and closes; the run goes on with a record every window.
 * 6. A second tab joining late starts from the newest checkpoint, replays the records since to
 *    the validator's hash and is selected.
 *
 * The spec prints the tab's and the Deno peers' speed and the tab's time per window (training
 * vs waiting on the network).
 */
import { expect, test } from "@playwright/test";
import { fixtureChildren } from "./fixture_children.ts";
import { execFileSync } from "node:child_process";
import {
  applied,
  FIXTURE_TIMEOUT_MS,
  pageState,
  peerReport,
  startFixture,
  tail,
  until,
  untilSelected,
  validatorRecords as recordsOf,
} from "./peer_fixture.ts";
import type { PeerPageState } from "../../workers/peer_protocol.ts";
import { runLink } from "../../src/net/run_link.ts";

/** Joining, 3 trained windows and 2 selected records (12 s windows), with slack for 2 cores. */
const RUN_TIMEOUT_MS = 240_000;
/** After the reload: keys and state from IndexedDB, then catching up. */
const RESUME_TIMEOUT_MS = 60_000;

/** Fixture processes this spec started; stopped after each test whatever happened. */
const children = fixtureChildren(20_000);

test("a Chromium tab trains with a Deno validator and Deno peers, in lockstep, resumes after a reload, leaves cleanly and a late tab catches up", async ({ page }) => {
  test.setTimeout(FIXTURE_TIMEOUT_MS + 2 * RUN_TIMEOUT_MS + 2 * RESUME_TIMEOUT_MS + 180_000);
  const fx = await test.step("start a validator and 2 Deno peers", () => startFixture(children));
  const context0 = page.context();
  const consoleLines: string[] = [];
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  const context = () =>
    `\nbrowser console:\n${consoleLines.slice(-20).join("\n")}\nfixture stderr:\n${
      tail(fx.stderr(), 30)
    }`;
  const validatorRecords = () => recordsOf(fx);
  const link = runLink("/peer.html", fx.info.genesis, [fx.info.bootstrap], fx.info.runId);
  const query = new URLSearchParams(link.slice(link.indexOf("?") + 1));

  const open = async (q = query) => {
    const res = await page.goto(`/peer.html?${q}`);
    expect(res?.ok(), `GET /peer.html: ${res?.status()} (did \`vite build\` run?)`).toBe(true);
    await page.getByRole("button", { name: "Start" }).click();
  };
  const refused = async (what: string, q: URLSearchParams, timeoutMs: number) => {
    await open(q);
    await expect(page.locator("#message"), what).toHaveClass("error", { timeout: timeoutMs });
    return await page.locator("#message").textContent();
  };

  await test.step("a link with another run id, or no reachable bootstrap, is refused clearly", async () => {
    const wrongRun = new URLSearchParams(query);
    wrongRun.set("run", "00".repeat(32));
    expect(await refused("wrong run id", wrongRun, 30_000)).toMatch(/does not match its genesis/);
    const nobody = new URLSearchParams(query);
    // A closed port on loopback, with the validator's peer id.
    nobody.set("bootstrap", fx.info.bootstrap.replace(/\/tcp\/\d+\//, "/tcp/9/"));
    nobody.set("profile", "unreachable");
    expect(await refused("unreachable bootstrap", nobody, 45_000)).toMatch(
      /no reachable bootstrap node/,
    );
  });

  let address = "";
  await test.step("the tab joins and trains 3 windows, 2 of them selected", async () => {
    await open();
    const s = await untilSelected(
      page,
      fx,
      { windows: 3, selected: 2, who: "the tab", timeoutMs: RUN_TIMEOUT_MS },
      context,
    );
    address = s.address!;
    expect(s.backend?.kind, `software adapter → CPU reference: ${JSON.stringify(s.backend)}`)
      .toBe("cpu");
    expect(s.runId).toBe(fx.info.runId);
    // Every record the tab applied left it on the validator's model.
    const mine = applied(s);
    expect(mine.length, `records applied by the tab${context()}`).toBeGreaterThanOrEqual(2);
    for (const r of mine) {
      // The tab may apply a record (gossip) before the validator's own event line is read.
      let v = validatorRecords().find((x) => x.window === r.window);
      for (let i = 0; v === undefined && i < 40; i++) {
        await new Promise((ok) => setTimeout(ok, 250));
        v = validatorRecords().find((x) => x.window === r.window);
      }
      expect(v, `the validator's record of window ${r.window}`).toBeDefined();
      expect(r.modelHash, `model hash after record ${r.window}`).toBe(v!.modelHash);
    }
    // The records carry the validator's verdicts; the page shows the tab's.
    expect(s.status?.standing, `the tab's standing${context()}`).not.toBeNull();
    console.log(`tab standing: ${JSON.stringify(s.status!.standing)}`);
    peerReport(s, fx, "peer.spec");
  });

  await test.step("a reload resumes from IndexedDB", async () => {
    const before = await pageState(page);
    const total = validatorRecords().length;
    await page.reload();
    await page.getByRole("button", { name: "Start" }).click();
    const s = await until(
      page,
      "caught up after the reload",
      RESUME_TIMEOUT_MS,
      (s) => s.events.some((e) => e.event === "caught-up"),
      context,
    );
    expect(s.address, "the same key, from IndexedDB").toBe(before.address);
    expect(s.peerId, "the same libp2p key").toBe(before.peerId);
    expect(s.keyCreated).toBe(false);
    const caught = s.events.find((e) => e.event === "caught-up")!;
    if (caught.event !== "caught-up") throw new Error("unreachable");
    // Resumed from its saved head: it fetched only the records since, not the run's history.
    expect(caught.applied).toBeGreaterThanOrEqual(before.status!.applied);
    expect(
      caught.records,
      `records fetched after the reload (${total} in the run)`,
    ).toBeLessThanOrEqual(caught.applied - before.status!.applied);
    // The kept key exports as a key file that `deno task peer --key` reads.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export key" }).click(),
    ]);
    const keyPath = await download.path();
    const parsed = execFileSync("node_modules/.bin/deno", [
      "eval",
      `import { parseKeyFile } from "./src/identity/key_file.ts";
       import { identityReady } from "./src/identity/signer.ts";
       await identityReady();
       console.log(parseKeyFile(Deno.readTextFileSync(Deno.args[0]), "export").address);`,
      keyPath,
    ], { encoding: "utf8", timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } }).trim();
    expect(parsed, "the exported key file's address, read by Deno").toBe(s.address);
    console.log(
      `reload: resumed at record ${before.status!.applied}, fetched ${caught.records} record(s) ` +
        `of ${total} to reach ${caught.applied} in ${(caught.ms / 1000).toFixed(1)} s`,
    );
  });

  await test.step("a second tab on the same key is refused", async () => {
    const twin = await page.context().newPage();
    await twin.goto(`/peer.html?${query}`);
    await twin.getByRole("button", { name: "Start" }).click();
    await expect(twin.locator("#message")).toHaveClass("error", { timeout: 30_000 });
    expect(await twin.locator("#message").textContent()).toMatch(
      /already runs a peer with this key/,
    );
    await twin.close();
  });

  await test.step("the tab leaves mid-window and the run goes on", async () => {
    // Its share of a window is a few steps (~200 ms), shorter than the 1 s poll: "again" is a
    // step taken since the reload, not the training phase seen.
    await until(
      page,
      "training again",
      RESUME_TIMEOUT_MS,
      (s) => (s.status?.step ?? 0) > 0,
      context,
    );
    await page.getByRole("button", { name: "Stop" }).click();
    const stopped = await until(page, "the worker stopping", 30_000, (s) => s.stopped, context);
    // Its share is a few steps, so the window it was in may already have been announced (and
    // selected) before Stop took effect; from the next window on it must be gone.
    const lastWindow = stopped.status!.window;
    await page.close();
    const left = validatorRecords().at(-1)!.window;
    const deadline = Date.now() + 5 * fx.info.windowMs + 30_000;
    const done = () => {
      const after = validatorRecords().filter((r) => r.window > left);
      return after.length >= 2 && after.at(-1)!.window > lastWindow;
    };
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`no 2 records after the tab left${context()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const after = validatorRecords().filter((r) => r.window > left);
    expect(after.map((r) => r.window), "one record per window, none stalled").toEqual(
      after.map((_, i) => left + 1 + i),
    );
    for (const r of after) {
      expect(r.contributors, `record ${r.window}: the Deno peers still contribute`)
        .toBeGreaterThanOrEqual(1);
      if (r.window > lastWindow) expect(r.selected).not.toContain(address);
    }
  });

  await test.step("a second tab joins late, replays the records and contributes", async () => {
    const late = await context0.newPage();
    late.on("console", (m) => consoleLines.push(`late ${m.type()}: ${m.text()}`));
    const lateQuery = new URLSearchParams(query);
    lateQuery.set("profile", "late");
    const res = await late.goto(`/peer.html?${lateQuery}`);
    expect(res?.ok()).toBe(true);
    await late.getByRole("button", { name: "Start" }).click();
    const selectedApplied = (s: PeerPageState) =>
      applied(s).some((a) =>
        validatorRecords().some((r) => r.window === a.window && r.selected.includes(s.address!))
      );
    const s = await until(
      late,
      "a record selecting the late tab, applied by it",
      RUN_TIMEOUT_MS,
      (s) => s.address !== undefined && selectedApplied(s),
      context,
    );
    expect(s.address).not.toBe(address);
    // From the newest checkpoint, then only the records since: not a replay from window 0.
    const caught = s.events.find((e) => e.event === "caught-up");
    if (caught?.event !== "caught-up") throw new Error(`the late tab never caught up${context()}`);
    expect(s.logs.join("\n"), "the late tab loaded a checkpoint").toMatch(
      /loaded checkpoint of window \d+/,
    );
    expect(caught.records, `records replayed by the late tab (head ${caught.applied})`)
      .toBeLessThan(caught.applied + 1);
    console.log(
      `late tab: checkpoint + ${caught.records} record(s) to reach ${caught.applied} in ${
        (caught.ms / 1000).toFixed(1)
      } s`,
    );
    for (const a of applied(s)) {
      expect(a.modelHash, `late tab, model hash after record ${a.window}`).toBe(
        validatorRecords().find((r) => r.window === a.window)?.modelHash,
      );
    }
    await late.close();
  });
});
