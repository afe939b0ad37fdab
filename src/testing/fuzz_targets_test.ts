import { assert, assertEquals } from "./assert.ts";
import { fuzzTarget } from "../codec/fuzz.ts";
import { FUZZ_TARGETS, fuzzTargetNamed } from "./fuzz_targets.ts";

/** The short run of every target the suite keeps (`deno task fuzz` runs the long one). */
const INPUTS_PER_TARGET = 250;

Deno.test("fuzz targets: every decoder decodes or refuses clearly 250 inputs each", async () => {
  const t0 = performance.now();
  const bad: string[] = [];
  for (const target of FUZZ_TARGETS) {
    const seeds = await target.seeds();
    // Each target has a seed its decoder accepts (else mutations test nothing).
    let accepted = 0;
    for (const seed of seeds) {
      try {
        if ((await target.decode(seed.bytes, seed)) === "accepted") accepted++;
      } catch { /* an error-answer seed */ }
    }
    assert(accepted > 0, `${target.name}: no seed is accepted`);
    const s = await fuzzTarget(target, { seed: 20261201, inputs: INPUTS_PER_TARGET, seeds });
    if (s.failed > 0) bad.push(`${target.name}: ${JSON.stringify(s.failures.slice(0, 3))}`);
    assertEquals(s.accepted + s.rejected + s.failed, INPUTS_PER_TARGET);
    assert(s.rejected > INPUTS_PER_TARGET / 4, `${target.name}: ${JSON.stringify(s)}`);
  }
  assertEquals(bad, []);
  const ms = performance.now() - t0;
  assert(ms < 20_000, `the short fuzz run took ${ms.toFixed(0)} ms`);
});

Deno.test("fuzz targets: names are unique and cover every network and disk decoder", () => {
  const names = FUZZ_TARGETS.map((t) => t.name);
  assertEquals(new Set(names).size, names.length);
  for (
    const n of [
      "update",
      "message-peer-announce",
      "message-update-announce",
      "message-round-record",
      "sync-request",
      "sync-response",
      "payload-server",
      "payload-client",
      "content-server",
      "content-manifest",
      "content-chunk",
      "sync-server",
      "sync-client",
      "safetensors",
      "checkpoint",
      "genesis",
      "key-file",
      "state-pointer",
    ]
  ) assertEquals(fuzzTargetNamed(n).name, n);
});
