import { assert, assertEquals } from "../testing/assert.ts";
import { u8aWrapBytes } from "@polkadot/util";
import { sr25519PairFromSeed, sr25519Sign } from "@polkadot/util-crypto";
import { KeySigner } from "./key_signer.ts";
import { identityReady, SIGNATURE_BYTES, verify } from "./signer.ts";

await identityReady();

const DEV_PHRASE = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
const text = (s: string) => new TextEncoder().encode(s);

Deno.test("verify accepts a signature by the key, by public key and by address", async () => {
  const alice = KeySigner.fromUri("//Alice");
  const msg = text("webloco/test ‖ hello");
  const sig = await alice.sign(msg);
  assertEquals(sig.length, SIGNATURE_BYTES);
  assert(verify(msg, sig, alice.publicKey));
  assert(verify(msg, sig, alice.address));
});

Deno.test("verify rejects a message signed by one key under another key", async () => {
  const alice = KeySigner.fromUri("//Alice");
  const bob = KeySigner.fromUri("//Bob");
  const msg = text("round 7");
  const sig = await alice.sign(msg);
  assert(!verify(msg, sig, bob.publicKey));
  assert(!verify(msg, sig, bob.address));
});

Deno.test("verify rejects a tampered message and a tampered signature", async () => {
  const signer = KeySigner.fromMnemonic(DEV_PHRASE);
  const msg = text("window 12, payload abc");
  const sig = await signer.sign(msg);
  for (let i = 0; i < msg.length; i++) {
    const m = msg.slice();
    m[i] ^= 0x01;
    assert(!verify(m, sig, signer.publicKey), `flipped message byte ${i}`);
  }
  assert(!verify(msg.subarray(1), sig, signer.publicKey), "truncated message");
  for (const i of [0, 17, 31, 32, 50, 63]) {
    const s = sig.slice();
    s[i] ^= 0x80;
    assert(!verify(msg, s, signer.publicKey), `flipped signature byte ${i}`);
  }
});

Deno.test("verify returns false, never throws, on malformed arguments", async () => {
  const signer = KeySigner.fromUri("//Alice");
  const msg = text("x");
  const sig = await signer.sign(msg);
  assert(!verify(msg, sig.subarray(0, 63), signer.publicKey));
  assert(!verify(msg, new Uint8Array(64), signer.publicKey));
  assert(!verify(msg, new Uint8Array(64).fill(0xff), signer.publicKey));
  assert(!verify(msg, sig, new Uint8Array(31)));
  assert(!verify(msg, sig, new Uint8Array(32).fill(0xff)));
  assert(!verify(msg, sig, "not-an-address"));
  assert(!verify(msg, sig, ""));
  assert(!verify(msg, sig, "0x" + "00".repeat(32)));
  // deno-lint-ignore no-explicit-any
  assert(!verify(null as any, sig, signer.publicKey));
});

Deno.test("verify accepts the <Bytes>-wrapped signatures of wallet extensions", () => {
  const pair = sr25519PairFromSeed(new Uint8Array(32).fill(3));
  const msg = text("webloco/update-announce/v1 …");
  const sig = sr25519Sign(u8aWrapBytes(msg), pair);
  assert(verify(msg, sig, pair.publicKey));
  assert(!verify(text("something else"), sig, pair.publicKey));
});
