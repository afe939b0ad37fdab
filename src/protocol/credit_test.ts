import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../testing/assert.ts";
import { creditTable, recordCredit, runCredit } from "./credit.ts";
import { GAUNTLET_DEFAULTS } from "./gauntlet_spec.ts";
import { runIdOf } from "./genesis.ts";
import { localGenesis } from "./local_genesis.ts";
import { type ScoredPeer, signMessage, verifyMessage } from "../codec/messages.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";

const names = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);

Deno.test("creditTable splits 75% over the top 20 on a 2:1 ramp and 25% over the next 10 halving", () => {
  const t = creditTable(names(35), GAUNTLET_DEFAULTS);
  assertEquals(t.length, 30);
  const share = (i: number) => t[i].share;
  const top = t.slice(0, 20).reduce((s, c) => s + c.share, 0);
  const next = t.slice(20).reduce((s, c) => s + c.share, 0);
  assertAlmostEquals(top, 0.75, 1e-12);
  assertAlmostEquals(next, 0.25, 1e-12);
  assertAlmostEquals(share(0) / share(19), 2, 1e-12);
  for (let i = 1; i < 20; i++) assert(share(i) < share(i - 1), `ramp falls at ${i}`);
  // Linear: equal steps down the ramp.
  assertAlmostEquals(share(0) - share(1), share(18) - share(19), 1e-12);
  for (let j = 21; j < 30; j++) assertAlmostEquals(share(j) / share(j - 1), 0.5, 1e-12);
  assertEquals(t.map((c) => c.address), names(30));
});

Deno.test("creditTable gives a small run all of the credit", () => {
  const three = creditTable(names(3), GAUNTLET_DEFAULTS);
  assertAlmostEquals(three.reduce((s, c) => s + c.share, 0), 1, 1e-12);
  assertAlmostEquals(three[0].share, 2 / 4.5, 1e-12); // weights 2, 1.5, 1
  assertEquals(creditTable(names(1), GAUNTLET_DEFAULTS), [{ address: "p0", share: 1 }]);
  assertEquals(creditTable([], GAUNTLET_DEFAULTS), []);
});

Deno.test("creditTable refuses a ranking that names a peer twice", () => {
  assertThrows(() => creditTable(["a", "b", "a"], GAUNTLET_DEFAULTS), RangeError, "twice");
});

Deno.test("runCredit recomputes one row per wallet from signed round records alone", async () => {
  await identityReady();
  const validator = KeySigner.fromUri("//Alice");
  const wallet = KeySigner.fromUri("//Wallet");
  const [s1, s2, solo] = ["//s1", "//s2", "//solo"].map((u) => KeySigner.fromUri(u));
  const runId = runIdOf(localGenesis({ validators: [validator.address], genesisTime: 0 }));
  const opts = { runId, validators: [validator.address], maxContributors: 3 };
  const peer = (s: KeySigner, score: number, owner?: string): ScoredPeer => ({
    address: s.address,
    gradScore: 0.1,
    score,
    verdict: "selected",
    until: 0,
    other: null,
    ...(owner === undefined ? {} : { wallet: owner }),
  });
  const record = async (window: number, scored: ScoredPeer[]) => {
    const bytes = await signMessage(validator, {
      runId,
      timestamp: 1000 + window,
      body: {
        kind: "round-record",
        window,
        modelHash: new Uint8Array(32).fill(window),
        nextModelHash: new Uint8Array(32).fill(window + 1),
        contributors: scored.map((s) => ({ address: s.address, payloadHash: new Uint8Array(32) })),
        scored,
      },
    });
    const m = verifyMessage(bytes, opts);
    if (!m.ok || m.message.body.kind !== "round-record") {
      throw new Error(`record ${window} does not verify`);
    }
    return m.message.body;
  };
  // Window 0: two session keys of one wallet and a key of its own; window 1: the wallet alone.
  const chain = [
    await record(0, [peer(s1, 3, wallet.address), peer(solo, 2), peer(s2, 1, wallet.address)]),
    await record(1, [peer(s2, 5, wallet.address)]),
  ];
  const first = recordCredit(chain[0], GAUNTLET_DEFAULTS);
  assertEquals(first.map((c) => c.address), [wallet.address, solo.address]);
  assertAlmostEquals(first[0].share, (2 + 1) / 4.5, 1e-12); // ramp 2, 1.5, 1: best and last
  const table = runCredit(chain, GAUNTLET_DEFAULTS);
  assertEquals(table.map((c) => c.address), [wallet.address, solo.address]);
  assertAlmostEquals(table[0].share, (3 / 4.5 + 1) / 2, 1e-12);
  assertAlmostEquals(table[0].share + table[1].share, 1, 1e-12);
  assertEquals(runCredit([], GAUNTLET_DEFAULTS), []);
});
