/**
 * The "try the model" panel (web/model.html): an exported folder, served (`?model=URL`,
 * default `./model/`) or picked, run by onnxruntime-web with the key/value cache (WebGPU
 * execution provider, else WebAssembly; `?ep=wasm` forces the latter), generating as the user
 * types, tokens/s shown.
 *
 * `globalThis.modelPanel` lets test/browser/model.spec.ts compare onnxruntime-web's logits with
 * the project's own forward computed here (src/model/llama.ts on the CPU reference ops), and
 * lets the bench time both on the same adapter.
 */
import * as ort from "onnxruntime-web/webgpu";
import { cpuOps } from "../src/backend/cpu_ops.ts";
import { gpuOps } from "../src/backend/gpu_ops.ts";
import type { Ops } from "../src/backend/ops.ts";
import { type ExportedFolder, loadExportedFolder } from "../src/export/exported_folder.ts";
import { Generator } from "../src/export/generator.ts";
import { OnnxGenerator } from "../src/export/onnx_generator.ts";
import type { SampleOptions } from "../src/export/sample_token.ts";
import { TextStream } from "../src/export/text_stream.ts";
import { adapterLabel } from "../src/gpu/device.ts";
import { openRuntime } from "../src/kernels/open_runtime.ts";
import { Llama } from "../src/model/llama.ts";
import { Rng } from "../src/util/rng.ts";

/** Tokens/s of one generation run. */
export interface Timed {
  ids: number[];
  text: string;
  tokensPerSecond: number;
}

/** What the page exposes to Playwright. */
export interface ModelPanel {
  /** The execution provider the session runs on ("webgpu" or "wasm"). */
  ep: string;
  /** onnxruntime-web's logits for every position of `ids` (one run, no cache), flattened. */
  onnxLogits(ids: number[]): Promise<number[]>;
  /** The project's forward (CPU reference ops) over exactly `ids`, flattened (T·V). */
  referenceLogits(ids: number[]): Promise<number[]>;
  /** Generates with onnxruntime-web (KV cache). */
  generate(prompt: string, maxTokens: number, sample: SampleOptions, seed: number): Promise<Timed>;
  /** Greedy tokens/s of the project's forward (WebGPU, CPU reference) and of onnxruntime-web (each provider). */
  bench(prompt: string, maxTokens: number): Promise<Record<string, number | string | number[]>>;
}

declare global {
  /** Set once a model is loaded; `modelPanelError` when loading failed. */
  var modelPanel: ModelPanel | undefined;
  var modelPanelError: string | undefined;
}

ort.env.wasm.numThreads = 1; // no cross-origin isolation here: threads are not available

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const GREEDY: SampleOptions = { temperature: 0, topK: 0, topP: 1 };

/** A session on `ep`; WebGPU falls back to wasm when the browser or the model cannot use it. */
async function session(onnx: Uint8Array, ep: string): Promise<[ort.InferenceSession, string]> {
  if (ep === "webgpu" && "gpu" in navigator) {
    try {
      return [
        await ort.InferenceSession.create(onnx, { executionProviders: ["webgpu"] }),
        "webgpu",
      ];
    } catch (e) {
      console.warn(`WebGPU execution provider unavailable, using wasm: ${(e as Error).message}`);
    }
  }
  return [await ort.InferenceSession.create(onnx, { executionProviders: ["wasm"] }), "wasm"];
}

async function timed(
  folder: ExportedFolder,
  gen: { generate: Generator<unknown>["generate"] },
  prompt: string,
  maxTokens: number,
  sample: SampleOptions,
  seed: number,
  onText: (text: string) => void = () => {},
): Promise<Timed> {
  const stream = new TextStream(folder.tokenizer), ids: number[] = [];
  let text = "";
  const t0 = performance.now();
  for await (
    const id of gen.generate(folder.tokenizer.encode(prompt), maxTokens, sample, new Rng(seed))
  ) {
    ids.push(id);
    text += stream.push(id);
    onText(text);
  }
  text += stream.flush();
  return { ids, text, tokensPerSecond: ids.length / ((performance.now() - t0) / 1000) };
}

async function start(read: (name: string) => Promise<Uint8Array>, where: string): Promise<void> {
  $("error").textContent = "";
  const folder = await loadExportedFolder(read, where);
  const [sess, ep] = await session(folder.onnx, params.get("ep") ?? "webgpu");
  const c = folder.config;
  $("model").textContent = `${where}: ${c.nLayers} layers × ${c.dModel}, context ${c.context}` +
    (folder.meta ? `, window ${folder.meta.window}` : "");
  $("ep").textContent = ep;

  let generation = 0;
  const run = async () => {
    const mine = ++generation;
    const num = (id: string) => Number($<HTMLInputElement>(id).value);
    const prompt = $<HTMLTextAreaElement>("prompt").value;
    if (folder.tokenizer.encode(prompt).length === 0) return;
    const out = $("text");
    const show = (text: string) => {
      if (mine !== generation) throw new Error("superseded");
      out.innerHTML = "";
      const p = document.createElement("span");
      p.className = "prompt";
      p.textContent = prompt;
      out.append(p, text);
    };
    try {
      // A generator per run: a superseded run may still be waiting on the session.
      const r = await timed(
        folder,
        new OnnxGenerator(ort, sess, c),
        prompt,
        num("max"),
        { temperature: num("temperature"), topK: num("topk"), topP: num("topp") },
        1,
        show,
      );
      if (mine === generation) $("tps").textContent = r.tokensPerSecond.toFixed(1);
    } catch (e) {
      if ((e as Error).message !== "superseded") $("error").textContent = String(e);
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  for (const id of ["prompt", "max", "temperature", "topk", "topp"]) {
    $(id).oninput = () => {
      clearTimeout(timer);
      timer = setTimeout(run, 250);
    };
  }

  globalThis.modelPanel = {
    ep,
    async onnxLogits(ids) {
      const i64 = (v: number[]) =>
        new ort.Tensor("int64", BigInt64Array.from(v, BigInt), [1, v.length]);
      const D = c.dModel / c.nHeads,
        feeds: Record<string, ort.Tensor> = {
          input_ids: i64(ids),
          attention_mask: i64(ids.map(() => 1)),
          position_ids: i64(ids.map((_, i) => i)),
        };
      for (let l = 0; l < c.nLayers; l++) {
        for (const kv of ["key", "value"]) {
          feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor("float32", new Float32Array(0), [
            1,
            c.nKvHeads,
            0,
            D,
          ]);
        }
      }
      const out = await sess.run(feeds);
      return Array.from((await out.logits.getData()) as Float32Array);
    },
    async referenceLogits(ids) {
      const ops = cpuOps(32);
      const m = new Llama(ops, c, 1, ids.length, { forwardOnly: true });
      ops.write(m.params, folder.params);
      m.setBatch(Uint32Array.from(ids), new Uint32Array(ids.length));
      return Array.from(await ops.read(m.forward()));
    },
    generate: (prompt, maxTokens, sample, seed) =>
      timed(folder, new OnnxGenerator(ort, sess, c), prompt, maxTokens, sample, seed),
    async bench(prompt, maxTokens) {
      const rt = await openRuntime("browser");
      const result: Record<string, number | string | number[]> = {
        adapter: adapterLabel(rt.adapter),
      };
      const ours = new Generator(gpuOps(rt) as Ops<unknown>, c, folder.params);
      await timed(folder, ours, prompt, 2, GREEDY, 1); // warm-up: pipelines compile
      const mine = await timed(folder, ours, prompt, maxTokens, GREEDY, 1);
      result.ours_webgpu = mine.tokensPerSecond;
      const cpu = new Generator(cpuOps(32), c, folder.params);
      result.ours_cpu = (await timed(folder, cpu, prompt, maxTokens, GREEDY, 1)).tokensPerSecond;
      for (const want of ["webgpu", "wasm"]) {
        const [s, got] = await session(folder.onnx, want);
        const gen = new OnnxGenerator(ort, s, c);
        await timed(folder, gen, prompt, 2, GREEDY, 1);
        const r = await timed(folder, gen, prompt, maxTokens, GREEDY, 1);
        result[`onnx_${got}`] = r.tokensPerSecond;
        result[`onnx_${got}_same_tokens`] = r.ids.every((id, i) => id === mine.ids[i]) ? 1 : 0;
        await s.release();
      }
      rt.destroy();
      return result;
    },
  };
}

const base = new URL(params.get("model") ?? "./model/", location.href);
const fetchFrom = (url: URL) => async (name: string) => {
  const res = await fetch(new URL(name, url));
  if (!res.ok) throw new Error(`${new URL(name, url)}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
};
const fail = (e: unknown) => {
  globalThis.modelPanelError = e instanceof Error ? e.message : String(e);
  $("error").textContent = globalThis.modelPanelError;
  $("model").textContent = "not loaded";
};
start(fetchFrom(base), base.pathname.replace(/\/$/, "")).catch(fail);

$<HTMLInputElement>("folder").onchange = (ev) => {
  const files = [...((ev.target as HTMLInputElement).files ?? [])];
  // webkitRelativePath is "<folder>/<name>"; the folder's own name is dropped.
  const byName = new Map(files.map((f) => [f.webkitRelativePath.replace(/^[^/]*\//, ""), f]));
  const read = async (name: string) => {
    const f = byName.get(name);
    if (f === undefined) throw new Error(`the picked folder has no ${name}`);
    return new Uint8Array(await f.arrayBuffer());
  };
  globalThis.modelPanel = undefined;
  start(read, files[0]?.webkitRelativePath.split("/")[0] ?? "folder").catch(fail);
};
