/**
 * The Deno side of test/browser/model.spec.ts: exports a folder (the local genesis' model, θ₀
 * scaled ×8 so that greedy text varies) into `--out DIR` and prints `deno task generate`'s
 * greedy tokens for the prompt (the project's own forward, CPU reference ops).
 *
 *   deno run -A test/browser/model_folder.ts --out DIR --prompt "In the" --max-tokens 24
 *
 * The last stdout line is `MODEL_JSON {"greedy": [...]}`.
 */
import { parseFlags } from "../../src/cli/cli.ts";
import { generateMain } from "../../src/cli/generate_main.ts";
import { modelHashSync } from "../../src/codec/model_hash.ts";
import { exportFiles } from "../../src/export/export_files.ts";
import { initParams } from "../../src/model/init.ts";
import { paramLayout } from "../../src/model/params.ts";
import { localGenesis } from "../../src/protocol/local_genesis.ts";
import { runContext } from "../../src/protocol/run_context.ts";
import { hex } from "../../src/util/hex.ts";

const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

const { values: v } = parseFlags({
  args: Deno.args,
  options: {
    out: { type: "string" },
    prompt: { type: "string" },
    "max-tokens": { type: "string" },
  },
});
if (!v.out || !v.prompt || !v["max-tokens"]) {
  throw new Error("--out, --prompt and --max-tokens are needed");
}
const g = localGenesis({ validators: [ALICE], genesisTime: 1_750_000_000_000 });
const params = initParams(paramLayout(g.model), g.model, 11).map((x) => x * 8);
const meta = { runId: runContext(g).runIdHex, window: 0, modelHash: hex(modelHashSync(params)) };
await Deno.mkdir(`${v.out}/onnx`, { recursive: true });
for (const [name, data] of exportFiles(g, { params, meta })) {
  await (typeof data === "string"
    ? Deno.writeTextFile(`${v.out}/${name}`, data)
    : Deno.writeFile(`${v.out}/${name}`, data));
}
const greedy = await generateMain(
  [
    "--model",
    v.out,
    "--prompt",
    v.prompt,
    "--max-tokens",
    v["max-tokens"],
    "--temperature",
    "0",
    "--backend",
    "cpu",
  ],
  () => {},
);
console.log(`MODEL_JSON ${JSON.stringify({ greedy, config: g.model })}`);
