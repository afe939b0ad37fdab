/**
 * Opens a built page and waits for the object it publishes on `window` when done, failing early
 * (instead of at the timeout) when the page is missing or a script dies before publishing.
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
  await Promise.race([
    dead,
    page.waitForFunction(
      (k) => (window as unknown as Record<string, unknown>)[k] !== undefined,
      key,
      {
        timeout: timeoutMs,
        polling: 500,
      },
    ),
  ]);
  return await page.evaluate((k) => (window as unknown as Record<string, unknown>)[k], key) as T;
}
