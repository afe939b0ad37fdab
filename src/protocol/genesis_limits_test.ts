import { assert, assertEquals } from "../testing/assert.ts";
import { presetConfig } from "../model/config.ts";
import { genesisLimitProblems, genesisSizes } from "./genesis_limits.ts";
import { localGenesis } from "./local_genesis.ts";

const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

Deno.test("genesisSizes counts the tiny model and bounds its update", () => {
  const g = localGenesis({ validators: [ALICE], genesisTime: 0 });
  const z = genesisSizes(g);
  // tiny: embedding 256×64 (tied), 2 × (4 attention matrices + 3 MLP + 2 norms), final norm.
  const m = g.model, kv = (m.dModel / m.nHeads) * m.nKvHeads;
  const layer = 2 * m.dModel * m.dModel + 2 * m.dModel * kv + 3 * m.dModel * m.ffnHidden +
    2 * m.dModel;
  assertEquals(z.params, m.vocabSize * m.dModel + m.nLayers * layer + m.dModel);
  assertEquals(z.checkpointBytes, 4 * z.params);
  // At most k entries per tile, each with an index (≤ 13 bits) and a 2-bit code.
  assert(z.updateBytesMax > 0 && z.updateBytesMax < z.params, `${z.updateBytesMax}`);
  assertEquals(genesisLimitProblems(g), []);
});

Deno.test("genesisLimitProblems names a model too large for the wire", () => {
  const g = localGenesis({
    validators: [ALICE],
    genesisTime: 0,
    model: { ...presetConfig("base"), dModel: 2048, nHeads: 16, nLayers: 24, ffnHidden: 5504 },
    sparseloco: { k: 4096 },
  });
  const p = genesisLimitProblems(g);
  assertEquals(p.length, 2, p.join("\n"));
  assert(p[0].startsWith("model: an update can take "), p[0]);
  assert(p[1].includes("parameters make a checkpoint of"), p[1]);
});
