import { assertEquals, assertThrows } from "../testing/assert.ts";
import { addressFromPublicKey, publicKeyFromAddress } from "./address.ts";
import { IdentityError } from "./errors.ts";
import { hex } from "../util/hex.ts";

const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const ALICE_KEY = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";

Deno.test("publicKeyFromAddress decodes a known SS58 address", () => {
  assertEquals(hex(publicKeyFromAddress(ALICE)), ALICE_KEY);
});

Deno.test("addressFromPublicKey round-trips in prefix 42 and keeps the key under other prefixes", () => {
  const key = publicKeyFromAddress(ALICE);
  assertEquals(addressFromPublicKey(key), ALICE);
  const polkadot = addressFromPublicKey(key, 0);
  assertEquals(polkadot.startsWith("1"), true);
  assertEquals(hex(publicKeyFromAddress(polkadot)), ALICE_KEY);
});

Deno.test("publicKeyFromAddress rejects hex keys, bad checksums and garbage", () => {
  assertThrows(() => publicKeyFromAddress("0x" + ALICE_KEY), IdentityError, "not an SS58 address");
  assertThrows(
    () => publicKeyFromAddress(ALICE.slice(0, -1) + "Z"),
    IdentityError,
    "not an SS58 address",
  );
  assertThrows(() => publicKeyFromAddress(""), IdentityError);
  assertThrows(() => publicKeyFromAddress("F7Hs"), IdentityError); // an account index, not a key
});

Deno.test("addressFromPublicKey rejects a wrong key length or SS58 format", () => {
  assertThrows(() => addressFromPublicKey(new Uint8Array(31)), IdentityError, "32 bytes");
  assertThrows(() => addressFromPublicKey(new Uint8Array(32), 46), IdentityError, "SS58 format");
  assertThrows(() => addressFromPublicKey(new Uint8Array(32), 1.5), IdentityError, "SS58 format");
});
