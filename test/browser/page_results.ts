/**
 * Opens a built page and waits for the object it publishes on `window` when done, failing early
 * (instead of at the timeout) when the page is missing or a script dies before publishing, and
 * saying how far the page got when it times out.
 */
import { expect, type Page } from "@playwright/test";

export async function pageResults<T>(
  page: Page,
  path: string,
  key: "__kernelResults" | "__trainResults",
  timeoutMs: number,
  logs: string[],
): Promise<T> {
  let died: (e: Error) => void = () => {};
  const dead = new Promise<never>((_, reject) => (died = reject));
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => {
    logs.push(`pageerror: ${e.message}`);
    died(new Error(`uncaught error in ${path} before it published ${key}: ${e.message}`));
  });
  page.on("crash", () => died(new Error(`the page ${path} crashed`)));
  const res = await page.goto(path);
  expect(res?.ok(), `GET ${path}: ${res?.status()} (did \`vite build\` run?)`).toBe(true);
  try {
    await Promise.race([
      dead,
      page.waitForFunction(
        (k) => (window as unknown as Record<string, unknown>)[k] !== undefined,
        key,
        { timeout: timeoutMs, polling: 500 },
      ),
    ]);
  } catch (e) {
    // Say how far the page got: its status line and its last console lines.
    const status = await page.locator("#status").textContent({ timeout: 2_000 }).catch(() => "?");
    throw new Error(
      `${path} did not publish ${key}: ${(e as Error).message.split("\n")[0]}\n` +
        `page status: ${status}\nlast console lines:\n${logs.slice(-20).join("\n")}`,
    );
  }
  return await page.evaluate((k) => (window as unknown as Record<string, unknown>)[k], key) as T;
}
