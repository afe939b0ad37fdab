/**
 * "Connect wallet" on the volunteer page with a wallet extension: the spec injects a test
 * extension into `window.injectedWeb3` with the shape a polkadot-js extension injects
 * (`enable(origin)` → accounts + signer.signRaw) holding a real sr25519 key (in this Node
 * process, signing `<Bytes>…</Bytes>`-wrapped data as the extension does), then:
 *
 * 1. without any extension, and with a wallet that refuses to sign, the page says so;
 * 2. the wallet signs the delegation through the page's button, and the tab — signing with
 *    its session key — trains with a Deno validator and 2 Deno peers: ≥ 2 windows, its updates
 *    selected in ≥ 2 records, no message of it refused, on the validator's model hash, and the
 *    credit it recomputes from the records it holds names the wallet with a share > 0;
 * 3. after a reload the kept delegation is used again without asking the wallet.
 *
 * `WEBLOCO_SCREENSHOTS=docs` also writes the README's pictures of the page's main states.
 */
import { expect, test } from "@playwright/test";
import { Keyring } from "@polkadot/keyring";
import { hexToU8a, u8aToHex, u8aWrapBytes } from "@polkadot/util";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { fixtureChildren } from "./fixture_children.ts";
import {
  applied,
  FIXTURE_TIMEOUT_MS,
  peerReport,
  rounds,
  startFixture,
  tail,
  until,
  untilSelected,
  validatorRecords as recordsOf,
} from "./peer_fixture.ts";
import { runLink } from "../../src/net/run_link.ts";

/** Joining and 2 selected windows (12 s windows), with slack for 2 shared cores. */
const RUN_TIMEOUT_MS = 200_000;

const children = fixtureChildren(20_000);

test("a wallet extension delegates once to the tab's session key, which trains and is selected", async ({ page }) => {
  test.setTimeout(FIXTURE_TIMEOUT_MS + RUN_TIMEOUT_MS + 90_000);
  await cryptoWaitReady();
  const pair = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//Charlie");
  const fixture = startFixture(children); // starts while the page's refusals are checked
  let refuseNext = true;
  const signed: string[] = [];
  // The extension's secret side: a real key, signing like polkadot-js's signRaw.
  await page.exposeFunction("__testWalletSign", (address: string, data: string) => {
    if (address !== pair.address) throw new Error(`unknown account ${address}`);
    if (refuseNext) {
      refuseNext = false;
      throw new Error("Cancelled");
    }
    signed.push(new TextDecoder().decode(hexToU8a(data)));
    return u8aToHex(pair.sign(u8aWrapBytes(hexToU8a(data))));
  });
  await page.addInitScript((account: string) => {
    const w = globalThis as unknown as {
      injectedWeb3: Record<string, unknown>;
      __testWalletSign(address: string, data: string): Promise<string>;
    };
    const accounts = [{ address: account, name: "test wallet", type: "sr25519" }];
    let id = 0;
    w.injectedWeb3 = {
      "polkadot-js": {
        version: "0.63.1",
        enable: (_origin: string) =>
          Promise.resolve({
            accounts: {
              get: () => Promise.resolve(accounts),
              subscribe: (cb: (a: typeof accounts) => void) => {
                cb(accounts);
                return () => {};
              },
            },
            metadata: { get: () => Promise.resolve([]), provide: () => Promise.resolve(true) },
            signer: {
              signRaw: async (p: { address: string; data: string; type: string }) => ({
                id: ++id,
                signature: await w.__testWalletSign(p.address, p.data),
              }),
            },
          }),
      },
    };
  }, pair.address);

  const shots = process.env.WEBLOCO_SCREENSHOTS;
  await test.step("no extension, and a wallet that refuses, are told clearly", async () => {
    const fx = await fixture;
    const link = runLink("/peer.html", fx.info.genesis, [fx.info.bootstrap], fx.info.runId);
    const query = new URLSearchParams(link.slice(link.indexOf("?") + 1));
    query.set("profile", "wallet");
    const bare = await page.context().newPage(); // no init script: no extension
    await bare.goto(`/peer.html?${query}`);
    await bare.getByRole("button", { name: "Connect wallet" }).click();
    await expect(bare.locator("#message")).toHaveClass("error", { timeout: 30_000 });
    expect(await bare.locator("#message").textContent()).toMatch(/no wallet extension answered/);
    await bare.close();
    await page.goto(`/peer.html?${query}`);
    await expect(page.getByRole("button", { name: "Connect wallet" })).toBeEnabled();
    if (shots) await page.screenshot({ path: `${shots}/peer_idle.png`, fullPage: true });
    await page.getByRole("button", { name: "Connect wallet" }).click();
    await expect(page.locator("#message")).toHaveClass("error", { timeout: 30_000 });
    expect(await page.locator("#message").textContent()).toMatch(
      /the wallet did not sign the delegation: .*Cancelled/,
    );
  });

  await test.step("the wallet signs the delegation once; the tab trains and is selected", async () => {
    const fx = await fixture;
    const context = () => `\nfixture stderr:\n${tail(fx.stderr(), 30)}`;
    const validatorRecords = () => recordsOf(fx);
    await page.getByRole("button", { name: "Connect wallet" }).click();
    await expect(page.locator("#wallet")).toContainText(pair.address, { timeout: 30_000 });
    expect(signed.length, "one signature asked of the wallet").toBe(1);
    expect(signed[0]).toContain(`run ${fx.info.runId}`);
    expect(signed[0]).toContain(`wallet ${pair.address}`);
    if (shots) await page.screenshot({ path: `${shots}/peer_wallet.png`, fullPage: true });
    await page.getByRole("button", { name: "Start" }).click();
    const s = await untilSelected(
      page,
      fx,
      { windows: 2, selected: 2, who: "the tab's session key", timeoutMs: RUN_TIMEOUT_MS },
      context,
    );
    expect(s.wallet).toBe(pair.address);
    // Its share of a window came from what it measured, and bounded its steps.
    expect(s.share?.from, `share: ${JSON.stringify(s.share)}`).toBe("measured");
    expect(s.share!.stepMs).toBeGreaterThan(0);
    for (const r of rounds(s)) expect(r.steps).toBeLessThanOrEqual(s.share!.of);
    console.log(`tab share: ${JSON.stringify(s.share)}`);
    peerReport(s, fx, "wallet.spec");
    expect(s.address, "the session key signs, not the wallet").not.toBe(pair.address);
    expect(signed.length, "still the one signature").toBe(1);
    await expect(page.locator("#identity")).toContainText(`session key of wallet ${pair.address}`);
    for (const r of applied(s)) {
      const v = validatorRecords().find((x) => x.window === r.window);
      expect(r.modelHash, `model hash after record ${r.window}`).toBe(v?.modelHash);
    }
    // Its credit, recomputed in the tab from the records it holds, is its wallet's, and > 0.
    const c = (await until(
      page,
      "a credit row for the wallet",
      60_000,
      (x) => (x.status?.credit?.share ?? 0) > 0,
      context,
    )).status!.credit!;
    expect(c.wallet, `credit: ${JSON.stringify(c)}`).toBe(pair.address);
    await expect(page.locator("#credit")).toContainText(pair.address);
    console.log(`tab credit: ${JSON.stringify(c)}`);
    // No node refused any of its delegated messages.
    expect(fx.stderr()).not.toMatch(/delegation:/);
    if (shots) await page.screenshot({ path: `${shots}/peer_training.png`, fullPage: true });
    await page.getByRole("button", { name: "Stop" }).click();
    await until(page, "the worker stopping", 30_000, (s) => s.stopped, context);
  });

  await test.step("a reload keeps the delegation: the wallet is not asked again", async () => {
    await page.reload();
    await expect(page.locator("#wallet")).toContainText(pair.address, { timeout: 30_000 });
    await expect(page.locator("#message")).toContainText("the wallet delegation is kept");
    expect(signed.length).toBe(1);
  });
});
