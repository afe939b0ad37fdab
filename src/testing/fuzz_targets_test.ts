import { assert, assertEquals, assertThrows } from "./assert.ts";
import { fuzzTarget } from "../codec/fuzz.ts";
import { FUZZ_TARGETS, fuzzTargetNamed } from "./fuzz_targets.ts";
import { decodeMessage, signMessage } from "../codec/messages.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { KeyFileError, parseKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";

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
      "message-record-vote",
      "round-certificate",
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

Deno.test("fuzz finding: a round record with a non-canonical NaN score does not decode", async () => {
  await identityReady();
  const alice = KeySigner.fromUri("//Alice");
  const bob = KeySigner.fromUri("//Bob");
  const bytes = await signMessage(alice, {
    runId: new Uint8Array(32).fill(1),
    timestamp: 1_750_000_000_000,
    body: {
      kind: "round-record",
      window: 3,
      modelHash: new Uint8Array(32).fill(2),
      nextModelHash: new Uint8Array(32).fill(3),
      contributors: [],
      scored: [{
        address: bob.address,
        gradScore: NaN,
        score: 0,
        verdict: "not-evaluated",
        until: 0,
        other: null,
      }],
    },
  });
  assert(decodeMessage(bytes).ok, "the canonical NaN decodes");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = -1;
  for (let i = 0; i + 4 <= bytes.length && at < 0; i++) {
    if (Number.isNaN(view.getFloat32(i, true))) at = i;
  }
  assert(at > 0, "the NaN is in the message");
  view.setUint32(at, view.getUint32(at, true) | 1, true); // another NaN payload
  const r = decodeMessage(bytes);
  assert(!r.ok && r.reason === "malformed" && r.detail.includes("NaN"), JSON.stringify(r));
});

Deno.test("fuzz findings: a key file's refusal is one line and never quotes the secret", () => {
  const seed = "0x" + "07".repeat(32);
  for (
    const text of [
      `{"version":1,\n"seed":"${seed}" x}`, // not JSON: the parser's excerpt would quote the seed
      `{"version":1,"type":"sr25519","\\nmnemonic":"a"}`, // a field name with a newline
    ]
  ) {
    const e = assertThrows(() => parseKeyFile(text, "key.json"), KeyFileError);
    assert(!e.message.includes("\n") && !e.message.includes("0707"), JSON.stringify(e.message));
  }
});
