import { assertEquals, assertRejects } from "../testing/assert.ts";
import { servePages } from "./page_server.ts";
import { UsageError } from "./cli.ts";

Deno.test("servePages serves the built pages and nothing outside the folder", async () => {
  const dir = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/assets`);
    await Deno.writeTextFile(`${dir}/peer.html`, "<p>peer</p>");
    await Deno.writeTextFile(`${dir}/index.html`, "<p>index</p>");
    await Deno.writeTextFile(`${dir}/assets/a-123.js`, "export {};");
    await Deno.writeTextFile(`${outside}/secret.txt`, "no");
    const s = await servePages(dir);
    try {
      const get = async (path: string, method = "GET") => {
        const r = await fetch(`${s.origin}${path}`, { method });
        return { status: r.status, type: r.headers.get("content-type"), body: await r.text() };
      };
      assertEquals(await get("/peer.html?run=x"), {
        status: 200,
        type: "text/html; charset=utf-8",
        body: "<p>peer</p>",
      });
      assertEquals((await get("/")).body, "<p>index</p>");
      assertEquals((await get("/assets/a-123.js")).type, "text/javascript; charset=utf-8");
      assertEquals((await get("/assets/a-123.js", "HEAD")).body, "");
      assertEquals((await get("/nope.html")).status, 404);
      assertEquals((await get("/assets")).status, 404);
      const name = outside.split("/").at(-1);
      assertEquals((await get(`/%2e%2e/${name}/secret.txt`)).status, 404);
      assertEquals((await get("/peer.html", "POST")).status, 405);
    } finally {
      await s.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("servePages says to run vite build when the pages are missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(() => servePages(dir), UsageError, "run vite build");
  } finally {
    await Deno.remove(dir);
  }
});
