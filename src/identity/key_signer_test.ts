import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { IdentityError } from "./errors.ts";
import { KeySigner } from "./key_signer.ts";
import { identityReady, verify } from "./signer.ts";

await identityReady();

const DEV_PHRASE = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";

Deno.test("KeySigner derives the same addresses as Substrate tools", () => {
  // Known vectors from subkey / polkadot-js.
  assertEquals(
    KeySigner.fromUri("//Alice").address,
    "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
  );
  assertEquals(
    KeySigner.fromUri("//Bob").address,
    "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
  );
  assertEquals(
    KeySigner.fromMnemonic(DEV_PHRASE).address,
    "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV",
  );
});

Deno.test("KeySigner from a seed is deterministic and honours the SS58 format", () => {
  const seed = new Uint8Array(32).fill(7);
  const a = KeySigner.fromSeed(seed);
  const b = KeySigner.fromSeed(seed.slice());
  assertEquals(a.address, b.address);
  assertEquals(a.publicKey, b.publicKey);
  const dot = KeySigner.fromSeed(seed, 0);
  assertEquals(dot.publicKey, a.publicKey);
  assert(dot.address !== a.address);
});

Deno.test("KeySigner signatures verify and do not expose the secret", async () => {
  const s = KeySigner.fromSeed(new Uint8Array(32).fill(1));
  const msg = new Uint8Array([1, 2, 3]);
  assert(verify(msg, await s.sign(msg), s.address));
  const shown = JSON.stringify(s) + Object.keys(s).join(",");
  assert(!shown.includes("secret") && !shown.includes("pair"), shown);
});

Deno.test("KeySigner rejects bad mnemonics, seeds and URIs with IdentityError", () => {
  assertThrows(
    () =>
      KeySigner.fromMnemonic(
        "bottom drive obey lake curtain smoke basket hold race lonely fit fit",
      ),
    IdentityError,
    "mnemonic",
  );
  assertThrows(() => KeySigner.fromMnemonic(""), IdentityError, "mnemonic");
  assertThrows(() => KeySigner.fromSeed(new Uint8Array(31)), IdentityError, "32 bytes");
  assertThrows(() => KeySigner.fromUri(""), IdentityError, "empty");
  assertThrows(() => KeySigner.fromUri("not a mnemonic at all"), IdentityError, "cannot derive");
  assertThrows(() => KeySigner.fromUri("//Alice", -1), IdentityError, "SS58 format");
});
