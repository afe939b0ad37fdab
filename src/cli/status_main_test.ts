import { assert, assertEquals } from "../testing/assert.ts";
import { KeySigner } from "../identity/key_signer.ts";
import { identityReady } from "../identity/signer.ts";
import { creditTable } from "../protocol/credit.ts";
import { gauntletOf } from "../protocol/genesis.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import type { SignedRecord } from "../protocol/record_log.ts";
import { runContext } from "../protocol/run_context.ts";
import { formatRunStatus, summarizeRun } from "./status_main.ts";

await identityReady();
const [v, a, b] = ["//Alice", "//Bob", "//Charlie"].map((u) => KeySigner.fromUri(u).address);
const T0 = 1_750_000_000_000;
const ctx = runContext(localGenesis({ validators: [v], genesisTime: T0, windowMs: 10_000 }));

function record(window: number, scores: [string, number][], validLoss?: number): SignedRecord {
  return {
    bytes: new Uint8Array(0),
    sender: v,
    record: {
      kind: "round-record",
      window,
      modelHash: new Uint8Array(32),
      nextModelHash: new Uint8Array(32).fill(window + 1),
      contributors: scores.map(([address]) => ({ address, payloadHash: new Uint8Array(32) })),
      scored: scores.map(([address, score]) => ({
        address,
        gradScore: 0,
        score,
        verdict: "selected",
        until: 0,
        other: null,
      })),
      ...(validLoss === undefined ? {} : { validLoss }),
    },
  };
}

Deno.test("status summarizes window, last records, contributors with credit, validation loss", () => {
  // Given out of order; Charlie outscores Bob in window 0 (listed first in the record).
  const records = [
    record(2, [[a, 1]], 5.25),
    record(0, [[a, 1], [b, 3]]),
    record(1, [[a, 2]], 5.5),
  ];
  const s = summarizeRun(
    ctx,
    records,
    { window: 2, hash: "ab".repeat(32), size: 10 },
    T0 + 35_000,
    2,
  );
  assertEquals(s.window, 3);
  assertEquals(s.records, 3);
  assertEquals(s.last.map((r) => r.window), [1, 2]);
  assertEquals(s.last[0].modelHash, "02".repeat(32));
  assertEquals(s.validLoss, [{ window: 1, loss: 5.5 }, { window: 2, loss: 5.25 }]);
  const w0 = creditTable([b, a], gauntletOf(ctx.genesis));
  const share = (x: string) => w0.find((c) => c.address === x)!.share;
  assert(share(b) > share(a), JSON.stringify(w0));
  assertEquals(s.contributors, [
    { address: a, rounds: 3, credit: share(a) + 1 + 1 },
    { address: b, rounds: 1, credit: share(b) },
  ]);
  const text = formatRunStatus(s).join("\n");
  for (
    const want of [
      "window 3 open now",
      "3 round records",
      "newest checkpoint: window 2",
      "w1 5.500 · w2 5.250",
      a,
    ]
  ) {
    assert(text.includes(want), `${want} missing in\n${text}`);
  }
});
