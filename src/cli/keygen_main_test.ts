import { assert, assertEquals } from "../testing/assert.ts";
import { runMain } from "../testing/run_main.ts";
import { readKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";

await identityReady();

const MAIN = new URL("./keygen_main.ts", import.meta.url).pathname;

function keygen(...args: string[]) {
  return runMain(MAIN, args, ["--allow-read", "--allow-write", "--allow-env"]);
}

Deno.test("keygen writes a key file and prints its address; a second run refuses", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/k.json`;
    const first = await keygen("--out", path, "--ss58", "42");
    assertEquals(first.code, 0, first.stderr);
    const address = first.stdout.trim();
    assertEquals((await readKeyFile(path)).address, address);
    const again = await keygen("--out", path);
    assertEquals(again.code, 1);
    assert(
      again.stderr.startsWith("error: ") && again.stderr.includes("refusing to overwrite"),
      again.stderr,
    );
    const bad = await keygen("--out", `${dir}/x.json`, "--ss58", "46");
    assertEquals(bad.code, 1);
    assert(bad.stderr.includes("SS58 format"), bad.stderr);
    const missing = await keygen();
    assertEquals(missing.code, 1);
    assert(missing.stderr.includes("--out FILE is required"), missing.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
