import * as ort from "onnxruntime-web";
import { cpuOps } from "../backend/cpu_ops.ts";
import { presetConfig } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { Llama } from "../model/llama.ts";
import { paramLayout } from "../model/params.ts";
import { Rng } from "../util/rng.ts";
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { ExportError } from "./export_error.ts";
import { Generator } from "./generator.ts";
import { OnnxGenerator } from "./onnx_generator.ts";
import { checkOnnxModel, ONNX_OPSET, onnxModel } from "./onnx_model.ts";

// onnxruntime-web's wasm execution provider, single-threaded (no worker to stop).
ort.env.wasm.numThreads = 1;

const config = { ...presetConfig("tiny"), context: 16 };
// θ₀ scaled ×8: logits of std ~10 (θ₀'s are near zero and would hide errors).
const params = initParams(paramLayout(config), config, 11).map((x) => x * 8);
const meta = { runId: "ab".repeat(32), window: 7, modelHash: "cd".repeat(32) };
const V = config.vocabSize, D = config.dModel / config.nHeads, NKV = config.nKvHeads;
/** Worst |ONNX − ours| allowed on a logit: float32 sums in another order (measured: ~1e-4). */
const TOLERANCE = 1e-3;

const session = await ort.InferenceSession.create(onnxModel(config, params, meta), {
  executionProviders: ["wasm"],
});

/** Our forward over exactly `ids` (no padding): logits (T, V). */
async function reference(ids: number[]): Promise<Float32Array> {
  const ops = cpuOps(32);
  const m = new Llama(ops, config, 1, ids.length, { forwardOnly: true });
  ops.write(m.params, params);
  m.setBatch(Uint32Array.from(ids), new Uint32Array(ids.length));
  return await ops.read(m.forward());
}

const i64 = (v: number[], dims: number[]) =>
  new ort.Tensor("int64", BigInt64Array.from(v.map(BigInt)), dims);

type Past = Record<string, ort.Tensor>;
const emptyPast = (batch: number): Past =>
  Object.fromEntries(
    Array.from({ length: config.nLayers }, (_, l) =>
      ["key", "value"].map((kv) => [
        `past_key_values.${l}.${kv}`,
        new ort.Tensor("float32", new Float32Array(0), [batch, NKV, 0, D]),
      ])).flat(),
  );

/** One run: rows of `ids` (B,S) after `past`, mask over past + new, positions as given. */
async function run(ids: number[][], mask: number[][], positions: number[][], past: Past) {
  const B = ids.length, S = ids[0].length;
  const out = await session.run({
    input_ids: i64(ids.flat(), [B, S]),
    attention_mask: i64(mask.flat(), [B, mask[0].length]),
    position_ids: i64(positions.flat(), [B, S]),
    ...past,
  });
  const present: Past = {};
  for (const [name, t] of Object.entries(out)) {
    if (name.startsWith("present.")) present[name.replace("present", "past_key_values")] = t;
  }
  return { logits: out.logits.data as Float32Array, dims: out.logits.dims, present };
}

let worst = 0;
/** Asserts row `row` (V logits at `at`) of `got` equals `want`'s row `wantRow`. */
function close(got: Float32Array, at: number, want: Float32Array, wantRow: number, what: string) {
  for (let v = 0; v < V; v++) {
    const d = Math.abs(got[at * V + v] - want[wantRow * V + v]);
    worst = Math.max(worst, d);
    assert(d <= TOLERANCE, `${what}: logit ${v} differs by ${d}`);
  }
}

const sequences = [
  [73],
  [73, 110, 32, 116, 104],
  Array.from({ length: config.context }, (_, i) => (i * 37 + 5) % V),
];

Deno.test("onnxModel declares the Transformers.js causal-LM inputs and outputs", () => {
  const past = Array.from({ length: config.nLayers }, (_, l) => [`${l}.key`, `${l}.value`]).flat();
  assertEquals(session.inputNames, [
    "input_ids",
    "attention_mask",
    "position_ids",
    ...past.map((p) => `past_key_values.${p}`),
  ]);
  assertEquals(session.outputNames, ["logits", ...past.map((p) => `present.${p}`)]);
  assertEquals(ONNX_OPSET, 14);
});

Deno.test("onnxModel logits equal the project's forward for several lengths, no cache", async () => {
  for (const ids of sequences) {
    const T = ids.length, want = await reference(ids);
    const got = await run([ids], [ids.map(() => 1)], [ids.map((_, i) => i)], emptyPast(1));
    assertEquals(got.dims, [1, T, V]);
    for (let t = 0; t < T; t++) close(got.logits, t, want, t, `length ${T}, position ${t}`);
  }
});

Deno.test("onnxModel masks left padding in a batch (positions of a padded row start at 0)", async () => {
  const long = sequences[2].slice(0, 8), short = sequences[1];
  const pad = long.length - short.length;
  const got = await run(
    [long, [...Array(pad).fill(0), ...short]],
    [long.map(() => 1), [...Array(pad).fill(0), ...short.map(() => 1)]],
    // Transformers(.js): cumsum(mask) − 1, padding positions set to 1.
    [long.map((_, i) => i), [...Array(pad).fill(1), ...short.map((_, i) => i)]],
    emptyPast(2),
  );
  const wantLong = await reference(long), wantShort = await reference(short);
  for (let t = 0; t < long.length; t++) close(got.logits, t, wantLong, t, `long row ${t}`);
  for (let t = 0; t < short.length; t++) {
    close(got.logits, long.length + pad + t, wantShort, t, `padded row ${t}`);
  }
});

Deno.test("onnxModel with the key/value cache: prefill then one token at a time", async () => {
  const ids = sequences[2];
  const want = await reference(ids);
  for (const prefill of [1, 6]) {
    let step = await run(
      [ids.slice(0, prefill)],
      [ids.slice(0, prefill).map(() => 1)],
      [ids.slice(0, prefill).map((_, i) => i)],
      emptyPast(1),
    );
    for (let t = 0; t < prefill; t++) {
      close(step.logits, t, want, t, `prefill ${prefill}, position ${t}`);
    }
    for (let t = prefill; t < ids.length; t++) {
      step = await run([[ids[t]]], [Array(t + 1).fill(1)], [[t]], step.present);
      assertEquals(step.present["past_key_values.0.key"].dims, [1, NKV, t + 1, D]);
      close(step.logits, 0, want, t, `prefill ${prefill}, decode position ${t}`);
    }
  }
  console.log(`onnxModel: worst |ONNX − forward| over all checks ${worst.toExponential(2)}`);
});

Deno.test("onnxModel refuses a parameter buffer of another layout", () => {
  assertThrows(() => onnxModel(config, params.subarray(1), meta), ExportError, "the layout has");
});

Deno.test("OnnxGenerator chooses Generator's tokens, greedy and sampled, past the context", async () => {
  const prompt = [73, 110, 32, 116, 104, 101];
  const collect = async (g: AsyncGenerator<number>) => {
    const out: number[] = [];
    for await (const id of g) out.push(id);
    return out;
  };
  for (
    const sample of [{ temperature: 0, topK: 0, topP: 1 }, {
      temperature: 0.8,
      topK: 40,
      topP: 0.95,
    }]
  ) {
    // 20 new tokens: the window (16) slides after the 10th.
    const ours = await collect(
      new Generator(cpuOps(32), config, params).generate(prompt, 20, sample, new Rng(3)),
    );
    const onnx = await collect(
      new OnnxGenerator(ort, session, config).generate(prompt, 20, sample, new Rng(3)),
    );
    assertEquals(onnx, ours);
    assert(new Set(ours).size > 3, `degenerate generation ${ours}`);
  }
});

Deno.test("checkOnnxModel refuses a corrupted or mismatched onnx/model.onnx", () => {
  const bytes = onnxModel(config, params, meta);
  checkOnnxModel(bytes, meta);
  assertThrows(
    () => checkOnnxModel(bytes.subarray(0, 1000), meta),
    ExportError,
    "not an ONNX model",
  );
  assertThrows(() => checkOnnxModel(bytes, { ...meta, window: 8 }), ExportError, "window 7");
  assertThrows(
    () => checkOnnxModel(bytes, { ...meta, modelHash: "ef".repeat(32) }),
    ExportError,
    "a mismatched export",
  );
});
