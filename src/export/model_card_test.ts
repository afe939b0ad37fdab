import { KeySigner } from "../identity/key_signer.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { assert } from "../testing/assert.ts";
import { modelCard } from "./model_card.ts";

const genesis = localGenesis({
  validators: [KeySigner.fromUri("//Alice").address],
  genesisTime: 0,
  sparseloco: { H: 30 },
  data: { batch: 4 },
});
const meta = { runId: "ab".repeat(32), window: 10, modelHash: "cd".repeat(32) };

Deno.test("modelCard counts contributors and tokens from the round records when it has them", () => {
  const card = modelCard(genesis, {
    meta,
    history: { records: 10, contributions: 30, contributors: 3 },
  });
  const perContribution = 30 * 4 * genesis.model.context;
  assert(
    card.includes("| contributors | 3 keys, selected 30 times in 10 signed round records |"),
    card,
  );
  assert(
    card.includes(`| tokens seen | at most ${(30 * perContribution).toLocaleString("en")}:`),
    card,
  );
  // Without the records (a bare checkpoint file) it gives the bound from the genesis only.
  const bare = modelCard(genesis, { meta });
  assert(!bare.includes("| contributors |"), bare);
  assert(
    bare.includes(
      `at most 10 × ${genesis.maxContributors} contributors`,
    ),
    bare,
  );
});
