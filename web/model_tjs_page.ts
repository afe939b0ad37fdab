/**
 * Test page (web/model_tjs.html): `@huggingface/transformers` (its web build, on
 * onnxruntime-web: the npm package's Node build needs onnxruntime-node, whose install script
 * downloads binaries) loads an exported folder from this server only — remote models off — and
 * generates greedily, so test/browser/model.spec.ts can compare its tokens with
 * `deno task generate`'s.
 */
import { AutoModelForCausalLM, AutoTokenizer, env } from "@huggingface/transformers";
// Transformers.js would fetch onnxruntime-web's wasm from a CDN: serve its own copy (vite emits
// both files as assets; the path is where npm nests the version Transformers.js pins).
const wasmPaths = {
  mjs: new URL(
    "../node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.mjs",
    import.meta.url,
  ).href,
  wasm: new URL(
    "../node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm",
    import.meta.url,
  ).href,
};

declare global {
  /** Greedy new token ids of `prompt` with the folder `root` + `id` (e.g. "/", "test-model"). */
  var transformersGreedy: (
    root: string,
    id: string,
    prompt: string,
    maxTokens: number,
  ) => Promise<number[]>;
}

globalThis.transformersGreedy = async (root, id, prompt, maxTokens) => {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = root;
  env.useBrowserCache = false;
  const onnx = env.backends.onnx;
  if (onnx.wasm) {
    onnx.wasm.numThreads = 1;
    onnx.wasm.wasmPaths = wasmPaths;
  }
  const tokenizer = await AutoTokenizer.from_pretrained(id);
  const model = await AutoModelForCausalLM.from_pretrained(id, { device: "wasm", dtype: "fp32" });
  const inputs = tokenizer(prompt);
  const out = await model.generate({ ...inputs, max_new_tokens: maxTokens, do_sample: false });
  const ids = (out as { tolist(): bigint[][] }).tolist()[0].map(Number);
  return ids.slice(inputs.input_ids.dims[1]);
};
