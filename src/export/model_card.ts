/**
 * The exported folder's `README.md`: what the model is, where it came from, what is known of
 * its training, and the licence of its data.
 *
 * @module
 */

import type { Genesis } from "../protocol/genesis.ts";
import { paramLayout } from "../model/params.ts";
import type { ExportMeta } from "./hf_folder.ts";

/** What the card reports beyond the genesis and the checkpoint. */
export interface CardFacts {
  meta: ExportMeta;
  /** Mean next-token loss (nats) on held-out sequences, with how many tokens it covers. */
  validation?: { loss: number; tokens: number };
  /**
   * What the signed round records before this model say (a data directory keeps them; a bare
   * checkpoint file does not): records, contributions selected, distinct contributor keys.
   */
  history?: { records: number; contributions: number; contributors: number };
}

/** The model card (Markdown with the Hub's YAML front matter). */
export function modelCard(genesis: Genesis, facts: CardFacts): string {
  const c = genesis.model, g = genesis, w = facts.meta.window;
  const tokensPerContribution = g.sparseloco.H * g.data.batch * c.context;
  const defaultCorpus = g.data.corpus === "default";
  const licence = defaultCorpus
    ? "The training text is the King James Version of the Bible (Genesis 1:1 to Leviticus 27:34), " +
      "which is in the public domain (in the United Kingdom the Crown claims printing rights " +
      "under letters patent). See the project's `data/README.md`."
    : "The run's corpus files are listed below by SHA-256; their licence is for the run's " +
      "operator to state.";
  const corpusLines = defaultCorpus
    ? ["- the corpus embedded in webloco (`data/kjv_genesis_leviticus.txt`)"]
    : (g.data.corpus as { path: string; sha256: string }[]).map((r) =>
      `- \`${r.path}\` (sha256 \`${r.sha256}\`)`
    );
  const tokenizer = g.tokenizer === "bytes"
    ? "bytes: one token per UTF-8 byte (vocabulary 256), no special tokens"
    : `the run's BPE tokenizer (\`${g.tokenizer.path}\`, sha256 \`${g.tokenizer.sha256}\`), shipped as is`;
  const lines = [
    "---",
    `license: ${defaultCorpus ? "other" : "unknown"}`,
    "library_name: transformers",
    "pipeline_tag: text-generation",
    "tags: [llama, webloco, sparseloco]",
    "---",
    "",
    `# webloco run "${g.name}": window ${w}`,
    "",
    "A LLaMA-style decoder pre-trained by the peers of a webloco run (SparseLoCo over a " +
    "permissionless network), exported from its checkpoint.",
    "",
    "| | |",
    "|---|---|",
    `| run id | \`${facts.meta.runId}\` |`,
    `| model | θ at the start of window ${w} (at most ${w} outer rounds applied) |`,
    `| model hash | \`${facts.meta.modelHash}\` (SHA-256 of the flat float32 buffer) |`,
    `| shape | ${c.nLayers} layers, d_model ${c.dModel}, ${c.nHeads} heads (${c.nKvHeads} KV), ` +
    `FFN ${c.ffnHidden}, context ${c.context}, ${
      paramLayout(c).count.toLocaleString("en")
    } parameters |`,
    `| tokenizer | ${tokenizer} |`,
    ...(facts.history === undefined ? [] : [
      `| contributors | ${facts.history.contributors} keys, selected ${facts.history.contributions} ` +
      `times in ${facts.history.records} signed round records |`,
    ]),
    w === 0
      ? "| tokens seen | none: θ₀, the run's initial model |"
      : facts.history !== undefined
      ? `| tokens seen | at most ${
        (facts.history.contributions * tokensPerContribution).toLocaleString("en")
      }: ${facts.history.contributions} contributions × ${
        tokensPerContribution.toLocaleString("en")
      } tokens (H ${g.sparseloco.H} × batch ${g.data.batch} × context ${c.context}; a peer may stop short of H) |`
      : `| tokens seen | at most ${w} × ${g.maxContributors} contributors × ` +
        `${tokensPerContribution.toLocaleString("en")} tokens (H ${g.sparseloco.H} × batch ` +
        `${g.data.batch} × context ${c.context}); the exact number is the sum over the run's ` +
        "round records of the contributors each selected |",
    facts.validation === undefined
      ? "| validation loss | not computed |"
      : `| validation loss | ${facts.validation.loss.toFixed(4)} nats/token on ${
        facts.validation.tokens.toLocaleString("en")
      } ` +
        `held-out tokens (the last ${g.data.validFraction * 100}% of the corpus) |`,
    "",
    "## Data",
    "",
    ...corpusLines,
    "",
    licence,
    "",
    "## Use",
    "",
    "```python",
    "from transformers import AutoTokenizer, LlamaForCausalLM",
    'model = LlamaForCausalLM.from_pretrained("THIS_FOLDER")',
    'tok = AutoTokenizer.from_pretrained("THIS_FOLDER")',
    "```",
    "",
    'or, with webloco: `deno task generate --model THIS_FOLDER --prompt "…"`.',
    "`onnx/model.onnx` (fp32, key/value cache, the inputs and outputs Transformers.js expects) " +
    "runs in onnxruntime and in Transformers.js (`AutoModelForCausalLM.from_pretrained(…, " +
    '{ dtype: "fp32" })`), and in webloco\'s `web/model.html`.',
    "The model has no BOS/EOS tokens: generation stops at the requested length.",
    "",
  ];
  return lines.join("\n");
}
