/**
 * Playwright's webServer: `vite preview ARGS…` that also stops when Playwright goes away.
 *
 *   node test/browser/preview_server.mjs --host 127.0.0.1 --port 4179 --strictPort
 *
 * Playwright stops its webServer when it exits normally, but not when it is itself killed
 * (SIGTERM from an outer `timeout`, SIGKILL): the server would be orphaned. Playwright gives the
 * server a stdin pipe, and that pipe closes however Playwright ends, so end-of-input stops vite.
 * Vite's exit status is passed on, so a server that cannot start fails the run at once; so does
 * a missing build.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

// `vite preview` serves 404s from a missing dist/; say what is wrong instead of timing out.
for (const page of ["dist/index.html", "dist/kernels.html"]) {
  if (!existsSync(page)) {
    console.error(
      `${page} is missing: run \`node_modules/.bin/vite build\` before playwright test`,
    );
    process.exit(1);
  }
}

const vite = spawn("node_modules/.bin/vite", ["preview", ...process.argv.slice(2)], {
  stdio: ["ignore", "inherit", "inherit"],
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  vite.kill("SIGTERM");
  setTimeout(() => vite.kill("SIGKILL"), 3000).unref();
}

process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, stop);

vite.on("error", (e) => {
  console.error(`cannot start vite preview: ${e.message}`);
  process.exit(1);
});
vite.on("exit", (code, signal) => process.exit(stopping ? 0 : code ?? (signal ? 1 : 0)));
