/**
 * Browser tests: the built pages in dist/ (run `vite build` first) served by `vite preview` on
 * 127.0.0.1 (a secure context, so navigator.gpu exists) and opened in Debian's Chromium with
 * WebGPU on SwiftShader. Nothing is downloaded: never `npx playwright install`.
 *
 *   node_modules/.bin/vite build && node_modules/.bin/playwright test
 */
import { defineConfig } from "@playwright/test";

/** Same port as `preview.port` in vite.config.ts. */
const PORT = 4179;
const BASE_URL = `http://127.0.0.1:${PORT}`;

/** Headless Chromium with WebGPU on SwiftShader (see /work/shared/specs/PLATFORM.md). */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
  "--use-vulkan=swiftshader",
  "--use-webgpu-adapter=swiftshader",
  "--use-angle=swiftshader",
  "--disable-vulkan-surface",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export default defineConfig({
  testDir: "test/browser",
  testMatch: "*.spec.ts",
  // The browser-vs-Deno peer benchmark runs on its own (`deno task bench:browser`), not in CI.
  testIgnore: process.env.WEBLOCO_BENCH ? [] : ["bench.spec.ts"],
  // SwiftShader shares two CPUs with Deno's Dawn: one spec at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  // Per test; specs that need longer call test.setTimeout. The whole run is bounded too.
  timeout: 10 * 60_000,
  globalTimeout: 30 * 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: BASE_URL,
    browserName: "chromium",
    headless: true,
    trace: "off",
    screenshot: "off",
    video: "off",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: CHROMIUM_ARGS,
      env: {
        ...process.env,
        XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? "/tmp",
      } as Record<string, string>,
    },
  },
  webServer: {
    // `vite preview --host 127.0.0.1 --port PORT --strictPort`, wrapped so that the server also
    // stops when Playwright itself is killed (see test/browser/preview_server.mjs).
    command: `node test/browser/preview_server.mjs --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: `${BASE_URL}/kernels.html`,
    // A stale server from elsewhere on this port would serve the wrong dist/: fail instead.
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 5_000 },
  },
});
