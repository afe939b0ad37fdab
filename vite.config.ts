/**
 * Vite build of the browser pages: `web/index.html` (training demo, runs in a module Web Worker),
 * `web/kernels.html` (the WGSL kernel suite), `web/net.html` (a libp2p node against a Deno
 * peer), `web/peer.html` (the volunteer page: a real peer of a run, in a Web Worker) and
 * `web/store.html` (the IndexedDB state store, for its test). Output goes to `dist/` at the
 * repo root.
 *
 * The pages import straight from ../src, ../test, ../shaders and ../data; shaders and the corpus
 * are referenced as `new URL("…", import.meta.url)` and emitted as hashed assets.
 */
import { defineConfig } from "vite";

/** Absolute path of a file or folder given relative to the repo root (no node: imports). */
const at = (rel: string) => decodeURIComponent(new URL(rel, import.meta.url).pathname);
const repo = at("./");
const web = at("web/");

/** Fixed port for `vite preview`; playwright.config.ts uses the same one. */
const PREVIEW_PORT = 4179;

/**
 * Packages that only Deno loads: src/gpu/device.ts imports npm `webgpu` (Dawn, a native addon)
 * only under Deno. Left external, the browser bundle keeps a bare `import("webgpu")` that is never
 * reached instead of a chunk of Node-only code.
 */
const NODE_ONLY = ["webgpu"];

export default defineConfig({
  root: web,
  // Relative asset URLs: the built pages work from any sub-path of a static host.
  base: "./",
  publicDir: false,
  clearScreen: false,
  build: {
    outDir: at("dist/"),
    emptyOutDir: true,
    target: "es2022",
    // Shaders and the corpus stay separate files (fetched by URL), never inlined as data: URLs.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    // The net page bundles libp2p and the sr25519/ed25519 crypto (~1 MB); that is expected.
    chunkSizeWarningLimit: 1200,
    rolldownOptions: {
      external: NODE_ONLY,
      input: {
        index: at("web/index.html"),
        kernels: at("web/kernels.html"),
        net: at("web/net.html"),
        peer: at("web/peer.html"),
        store: at("web/store.html"),
        model: at("web/model.html"),
        model_tjs: at("web/model_tjs.html"),
        bench: at("web/bench.html"),
        ortbench: at("web/ortbench.html"),
      },
    },
  },
  worker: { format: "es", rolldownOptions: { external: NODE_ONLY } },
  optimizeDeps: { exclude: NODE_ONLY },
  // The dev server may read the whole repo (../src, ../test, ../shaders, ../data).
  server: { fs: { allow: [repo] } },
  preview: { host: "127.0.0.1", port: PREVIEW_PORT, strictPort: true },
});
