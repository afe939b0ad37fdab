/**
 * Deno-only: serves the built browser pages (`dist/`, from `vite build`) so that
 * `deno task swarm` hands a volunteer one URL to open. A static file server on loopback:
 * GET/HEAD only, no directory listings, nothing outside the folder, `index.html` for `/`.
 * Loopback because a page needs a secure context for WebGPU, and `http://127.0.0.1` is one.
 *
 * @module
 */

import { UsageError } from "./cli.ts";

/** Content types of what `vite build` emits. */
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  wasm: "application/wasm",
  wgsl: "text/plain; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  png: "image/png",
  svg: "image/svg+xml",
  map: "application/json",
};

/** A running page server. */
export interface PageServer {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly origin: string;
  /** Stops serving. */
  stop(): Promise<void>;
}

/**
 * Serves `dir` on 127.0.0.1:`port` (0: any free port). Throws {@linkcode UsageError} when
 * `dir` has no `peer.html`: the pages were not built.
 */
export async function servePages(dir: string, port = 0): Promise<PageServer> {
  const root = dir.replace(/\/+$/, "");
  try {
    await Deno.stat(`${root}/peer.html`);
  } catch {
    throw new UsageError(
      `${root}/peer.html is missing: run vite build (node_modules/.bin/vite build) to serve the volunteer page`,
    );
  }
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    (req) => respond(root, req),
  );
  const addr = server.addr as Deno.NetAddr;
  return {
    origin: `http://127.0.0.1:${addr.port}`,
    stop: () => server.shutdown(),
  };
}

async function respond(root: string, req: Request): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url).pathname);
  } catch {
    return new Response("bad path\n", { status: 400 });
  }
  if (path.endsWith("/")) path += "index.html";
  // No way out of the folder: every segment must be a plain name.
  const parts = path.split("/").filter((p) => p !== "");
  if (parts.some((p) => p === ".." || p === "." || p.includes("\\") || p.includes("\0"))) {
    return new Response("not found\n", { status: 404 });
  }
  const file = `${root}/${parts.join("/")}`;
  try {
    const info = await Deno.stat(file);
    if (!info.isFile) return new Response("not found\n", { status: 404 });
    const ext = file.slice(file.lastIndexOf(".") + 1).toLowerCase();
    const headers = {
      "content-type": TYPES[ext] ?? "application/octet-stream",
      "content-length": String(info.size),
      // Hashed assets never change; the pages themselves must not be cached stale.
      "cache-control": parts[0] === "assets" ? "public, max-age=31536000, immutable" : "no-cache",
    };
    if (req.method === "HEAD") return new Response(null, { headers });
    const f = await Deno.open(file, { read: true });
    return new Response(f.readable, { headers });
  } catch {
    return new Response("not found\n", { status: 404 });
  }
}
