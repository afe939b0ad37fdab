/**
 * `deno task generate`: text from an exported folder (`deno task export`), with the project's
 * own forward pass, streamed to stdout token by token.
 *
 * ```
 * deno task generate --model DIR --prompt "…" [--max-tokens N] [--temperature T] [--top-k K]
 *                    [--top-p P] [--seed S] [--backend cpu|dawn|wgpu]
 * ```
 *
 * Temperature 0 is greedy. Each token recomputes the whole context (no KV cache; fine for the
 * small models runs train); past the context the window slides (src/export/generator.ts).
 *
 * @module
 */

import { cpuOps } from "../backend/cpu_ops.ts";
import { gpuOps } from "../backend/gpu_ops.ts";
import type { Ops } from "../backend/ops.ts";
import { parseHfTokenizer } from "../data/hf_tokenizer.ts";
import { ExportError } from "../export/export_error.ts";
import { Generator } from "../export/generator.ts";
import { CONFIG_FILE, loadHfModel, WEIGHTS_FILE } from "../export/hf_folder.ts";
import type { SampleOptions } from "../export/sample_token.ts";
import { TextStream } from "../export/text_stream.ts";
import { openRuntime } from "../kernels/open_runtime.ts";
import { Rng } from "../util/rng.ts";
import { numberFlag, parseFlags, runCli, UsageError } from "./cli.ts";

const USAGE = 'usage: deno task generate --model DIR --prompt "…" [--max-tokens N] ' +
  "[--temperature T] [--top-k K] [--top-p P] [--seed S] [--backend cpu|dawn|wgpu]";

/** What a generation asks for. */
export interface GenerateArgs {
  model: string;
  prompt: string;
  maxTokens: number;
  sample: SampleOptions;
  seed: number;
  backend: "cpu" | "dawn" | "wgpu";
}

/** Parses the flags; throws UsageError. */
export function parseGenerateArgs(args: string[]): GenerateArgs {
  const { values: v } = parseFlags({
    args,
    options: {
      model: { type: "string" },
      prompt: { type: "string" },
      "max-tokens": { type: "string" },
      temperature: { type: "string" },
      "top-k": { type: "string" },
      "top-p": { type: "string" },
      seed: { type: "string" },
      backend: { type: "string", default: "cpu" },
    },
    strict: true,
    allowPositionals: false,
  }, USAGE);
  if (v.model === undefined) throw new UsageError(`--model is required (${USAGE})`);
  if (v.prompt === undefined || v.prompt === "") {
    throw new UsageError(`--prompt is required and may not be empty (${USAGE})`);
  }
  if (!["cpu", "dawn", "wgpu"].includes(v.backend!)) {
    throw new UsageError(`--backend must be cpu, dawn or wgpu, got "${v.backend}"`);
  }
  const topP = numberFlag("top-p", v["top-p"], 1, { integer: false });
  if (topP > 1) throw new UsageError(`--top-p must be in (0, 1], got "${v["top-p"]}"`);
  return {
    model: v.model.replace(/\/+$/, ""),
    prompt: v.prompt,
    maxTokens: numberFlag("max-tokens", v["max-tokens"], 64, { integer: true }),
    sample: {
      temperature: numberFlag("temperature", v.temperature, 0.8, { integer: false, min: 0 }),
      topK: numberFlag("top-k", v["top-k"], 0, { integer: true, min: 0 }),
      topP,
    },
    seed: numberFlag("seed", v.seed, 0, { integer: true, min: 0 }),
    backend: v.backend as GenerateArgs["backend"],
  };
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).name;
    throw new ExportError(`${path}: cannot read (${why})`);
  }
}

async function readText(path: string): Promise<string> {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(await readBytes(path));
  } catch (e) {
    if (e instanceof ExportError) throw e;
    throw new ExportError(`${path}: not UTF-8 text`);
  }
}

/** The exported folder's model and tokenizer, checked against each other. */
export async function loadModelFolder(dir: string) {
  const model = await loadHfModel(
    await readText(`${dir}/${CONFIG_FILE}`),
    await readBytes(`${dir}/${WEIGHTS_FILE}`),
    dir,
  );
  const tokenizer = parseHfTokenizer(
    await readText(`${dir}/tokenizer.json`),
    `${dir}/tokenizer.json`,
  );
  if (tokenizer.vocabSize !== model.config.vocabSize) {
    throw new ExportError(
      `${dir}: tokenizer.json has ${tokenizer.vocabSize} tokens, config.json vocab_size ${model.config.vocabSize}`,
    );
  }
  return { ...model, tokenizer };
}

async function openOps(backend: GenerateArgs["backend"]): Promise<Ops<unknown>> {
  if (backend === "cpu") return cpuOps(32) as Ops<unknown>;
  return gpuOps(await openRuntime(backend)) as Ops<unknown>;
}

/** Generates; `write` receives the prompt, then the text of each token as it is chosen. */
export async function generateMain(
  args: string[],
  write: (text: string) => void | Promise<void>,
): Promise<number[]> {
  const a = parseGenerateArgs(args);
  const { config, params, tokenizer } = await loadModelFolder(a.model);
  const prompt = tokenizer.encode(a.prompt);
  if (prompt.length === 0) throw new UsageError("--prompt encodes to no tokens");
  const generator = new Generator(await openOps(a.backend), config, params);
  const stream = new TextStream(tokenizer);
  const ids: number[] = [];
  await write(a.prompt);
  for await (const id of generator.generate(prompt, a.maxTokens, a.sample, new Rng(a.seed))) {
    ids.push(id);
    const text = stream.push(id);
    if (text !== "") await write(text);
  }
  await write(stream.flush() + "\n");
  return ids;
}

if (import.meta.main) {
  const out = new TextEncoder();
  await runCli(async () => {
    await generateMain(Deno.args, async (text) => {
      await Deno.stdout.write(out.encode(text));
    });
  });
}
