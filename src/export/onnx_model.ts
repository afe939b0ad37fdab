/**
 * The model as `onnx/model.onnx`, in the layout Transformers.js (and optimum's
 * `text-generation-with-past` export) uses for a causal LM with a key/value cache:
 *
 * - inputs `input_ids` (int64, batch_size × sequence_length), `attention_mask` (int64,
 *   batch_size × total_sequence_length, 1 = a real token, 0 = padding), `position_ids` (int64,
 *   batch_size × sequence_length) and `past_key_values.{i}.key` / `.value` (float32,
 *   batch_size × num_key_value_heads × past_sequence_length × head_dim; length 0 on the
 *   first call);
 * - outputs `logits` (float32, batch_size × sequence_length × vocab_size) and
 *   `present.{i}.key` / `.value` (the past with this call's keys and values appended).
 *
 * Only plain ONNX operators (opset 14, default domain), so every onnxruntime execution provider
 * runs it: Gather for the embedding and for the RoPE cos/sin tables (the project's own float32
 * table, `ropeTable`, so positions rotate bit-identically), MatMul against Transpose of the
 * Hugging Face weight (onnxruntime folds the transpose once at load; the tied `lm_head` is the
 * same `model.embed_tokens.weight` initializer, stored once), RMSNorm as
 * x·Reciprocal(Sqrt(ReduceMean(x²)+ε))·w (the order of our kernel), grouped-query attention by
 * broadcasting a (B, NKV, G, S, D) query over (B, NKV, 1, T, D) keys (query head h reads kv head
 * ⌊h/G⌋, like ours and Transformers' `repeat_kv`), a causal + padding mask as an additive bias,
 * and SwiGLU as g·Sigmoid(g)·u.
 *
 * The file is written with `onnx-proto` (the ONNX schema compiled for protobufjs) rather than
 * bytes by hand. Weights are inline initializers (float32 raw data): the presets are tens of MB,
 * far below protobuf's 2 GiB limit, which the writer enforces.
 *
 * @module
 */

import onnxProto from "onnx-proto";
import type { ModelConfig } from "../model/config.ts";
import { paramLayout } from "../model/params.ts";
import { ropeTable } from "../reference/rope.ts";
import { ExportError } from "./export_error.ts";
import type { ExportMeta } from "./hf_folder.ts";

const { onnx } = onnxProto;
type Node = InstanceType<typeof onnx.NodeProto>;
type Tensor = InstanceType<typeof onnx.TensorProto>;
type ValueInfo = InstanceType<typeof onnx.ValueInfoProto>;

/** Where Transformers.js looks for the fp32 model of a folder. */
export const ONNX_FILE = "onnx/model.onnx";

/** The operator set the graph uses (ReduceMean still takes `axes` as an attribute). */
export const ONNX_OPSET = 14;

/** protobuf messages cannot exceed 2 GiB; external data would be needed past that. */
const MAX_BYTES = 2 ** 31 - 1;

/** Added to the score of a masked key: exp underflows to exactly 0, a fully masked row stays finite. */
const MASKED = -1e9;

const DT = onnx.TensorProto.DataType;

/** A graph under construction: nodes in topological order, named initializers. */
class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Tensor[] = [];
  #next = 0;

  /** Appends one node and returns the names of its `outputs` fresh outputs. */
  ops(
    opType: string,
    inputs: string[],
    outputs: number | string[],
    attrs: Record<string, number | number[]> = {},
  ): string[] {
    const names = typeof outputs === "number"
      ? Array.from({ length: outputs }, () => `t${this.#next++}`)
      : outputs;
    const attribute = Object.entries(attrs).map(([name, v]) =>
      Array.isArray(v)
        ? onnx.AttributeProto.create({
          name,
          type: onnx.AttributeProto.AttributeType.INTS,
          ints: v,
        })
        : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v })
    );
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        input: inputs,
        output: names,
        name: `n${this.nodes.length}`,
        attribute,
      }),
    );
    return names;
  }

  /** One node with one output (named `output` when given). */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, number | number[]> = {},
    output?: string,
  ): string {
    return this.ops(opType, inputs, output === undefined ? 1 : [output], attrs)[0];
  }

  /** A float32 initializer. `dims` [] is a scalar. */
  floats(name: string, dims: number[], data: Float32Array): string {
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    this.initializers.push(
      onnx.TensorProto.create({ name, dims, dataType: DT.FLOAT, rawData: raw }),
    );
    return name;
  }

  /** An int64 initializer (1-D unless `scalar`). */
  ints(name: string, values: number[], scalar = false): string {
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims: scalar ? [] : [values.length],
        dataType: DT.INT64,
        int64Data: values,
      }),
    );
    return name;
  }
}

/** A tensor type for an input or output; string dims are symbolic (`batch_size`, …). */
function valueInfo(name: string, elemType: number, dims: (number | string)[]): ValueInfo {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  });
}

/**
 * The bytes of `onnx/model.onnx` for `params` (the flat buffer of `config`'s layout). The
 * model's metadata names the run, window and model hash, as `model.safetensors` does.
 */
export function onnxModel(config: ModelConfig, params: Float32Array, meta: ExportMeta): Uint8Array {
  const c = config, layout = paramLayout(c);
  if (params.length !== layout.length) {
    throw new ExportError(`params: ${params.length} floats, the layout has ${layout.length}`);
  }
  if (4 * layout.count > MAX_BYTES) {
    throw new ExportError(`${ONNX_FILE}: ${layout.count} parameters do not fit in one ONNX file`);
  }
  const NH = c.nHeads, NKV = c.nKvHeads, D = c.dModel / NH, G = NH / NKV, half = D / 2;
  const g = new GraphBuilder();
  for (const e of layout.entries) {
    g.floats(e.name, e.shape, params.subarray(e.offset, e.offset + e.size));
  }

  // Constants.
  const i0 = g.ints("const.zero", [0], true), i1 = g.ints("const.one", [1], true);
  const eps = g.floats("const.eps", [], new Float32Array([c.normEps]));
  const scale = g.floats("const.scale", [], new Float32Array([1 / Math.sqrt(D)]));
  const zeroF = g.floats("const.zero_f", [], new Float32Array([0]));
  const maskedF = g.floats("const.masked", [], new Float32Array([MASKED]));
  const headsQ = g.ints("shape.q_heads", [0, 0, NH, D]);
  const headsKv = g.ints("shape.kv_heads", [0, 0, NKV, D]);
  const groups = g.ints("shape.groups", [0, NKV, G, -1, D]);
  const ungroup = g.ints("shape.ungroup", [0, NH, -1, D]);
  const merge = g.ints("shape.merge", [0, 0, NH * D]);
  const lo = [g.ints("slice.lo_start", [0]), g.ints("slice.lo_end", [half])];
  const hi = [g.ints("slice.hi_start", [half]), g.ints("slice.hi_end", [D])];
  const axis3 = g.ints("slice.axis", [3]);

  // RoPE tables, (context, D): cos/sin of pair i repeated in both halves (rotate-half layout).
  const table = ropeTable(c.context, D, c.ropeTheta), cos = new Float32Array(c.context * D);
  const sin = new Float32Array(c.context * D);
  for (let t = 0; t < c.context; t++) {
    for (let i = 0; i < half; i++) {
      const k = 2 * (t * half + i);
      cos[t * D + i] = cos[t * D + half + i] = table[k];
      sin[t * D + i] = sin[t * D + half + i] = table[k + 1];
    }
  }
  g.floats("rope.cos", [c.context, D], cos);
  g.floats("rope.sin", [c.context, D], sin);
  const axes = (name: string, v: number[]) => g.ints(name, v);
  const ax1 = axes("axes.1", [1]), ax2 = axes("axes.2", [2]), ax123 = axes("axes.123", [1, 2, 3]);
  const cosB = g.op("Unsqueeze", [g.op("Gather", ["rope.cos", "position_ids"]), ax1]); // (B,1,S,D)
  const sinB = g.op("Unsqueeze", [g.op("Gather", ["rope.sin", "position_ids"]), ax1]);

  // Mask bias (B,1,1,S,T): key j is visible to query i (absolute P+i) iff j ≤ P+i and j is real.
  const total = g.op("Gather", [g.op("Shape", ["attention_mask"]), i1], { axis: 0 });
  const seq = g.op("Gather", [g.op("Shape", ["input_ids"]), i1], { axis: 0 });
  const past = g.op("Sub", [total, seq]);
  const keyIdx = g.op("Range", [i0, total, i1]); // (T)
  const queryIdx = g.op("Unsqueeze", [g.op("Range", [past, total, i1]), ax1]); // (S,1)
  const causal = g.op("LessOrEqual", [keyIdx, queryIdx]); // (S,T)
  const real = g.op("Unsqueeze", [g.op("Cast", ["attention_mask"], { to: DT.BOOL }), ax123]);
  const bias = g.op("Where", [g.op("And", [causal, real]), zeroF, maskedF]);

  const rmsnorm = (x: string, w: string) => {
    const ms = g.op("ReduceMean", [g.op("Mul", [x, x])], { axes: [-1], keepdims: 1 });
    const rstd = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [ms, eps])])]);
    return g.op("Mul", [g.op("Mul", [x, rstd]), w]);
  };
  const linear = (x: string, w: string) =>
    g.op("MatMul", [x, g.op("Transpose", [w], { perm: [1, 0] })]);
  // x: (B,S,H·D) → (B,H,S,D)
  const heads = (x: string, shape: string) =>
    g.op("Transpose", [g.op("Reshape", [x, shape])], { perm: [0, 2, 1, 3] });
  const rope = (x: string) => {
    const x1 = g.op("Slice", [x, lo[0], lo[1], axis3]),
      x2 = g.op("Slice", [x, hi[0], hi[1], axis3]);
    const rotated = g.op("Concat", [g.op("Neg", [x2]), x1], { axis: 3 });
    return g.op("Add", [g.op("Mul", [x, cosB]), g.op("Mul", [rotated, sinB])]);
  };

  const inputs = [
    valueInfo("input_ids", DT.INT64, ["batch_size", "sequence_length"]),
    valueInfo("attention_mask", DT.INT64, ["batch_size", "total_sequence_length"]),
    valueInfo("position_ids", DT.INT64, ["batch_size", "sequence_length"]),
  ];
  const outputs = [valueInfo("logits", DT.FLOAT, ["batch_size", "sequence_length", c.vocabSize])];
  let x = g.op("Gather", ["model.embed_tokens.weight", "input_ids"]); // (B,S,C)
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}`;
    for (const kv of ["key", "value"]) {
      inputs.push(
        valueInfo(`past_key_values.${l}.${kv}`, DT.FLOAT, [
          "batch_size",
          NKV,
          "past_sequence_length",
          D,
        ]),
      );
      outputs.push(
        valueInfo(`present.${l}.${kv}`, DT.FLOAT, ["batch_size", NKV, "total_sequence_length", D]),
      );
    }
    const xn = rmsnorm(x, `${p}.input_layernorm.weight`);
    const q = rope(heads(linear(xn, `${p}.self_attn.q_proj.weight`), headsQ)); // (B,NH,S,D)
    const k = rope(heads(linear(xn, `${p}.self_attn.k_proj.weight`), headsKv)); // (B,NKV,S,D)
    const v = heads(linear(xn, `${p}.self_attn.v_proj.weight`), headsKv);
    const keys = g.op("Concat", [`past_key_values.${l}.key`, k], { axis: 2 }, `present.${l}.key`);
    const values = g.op(
      "Concat",
      [`past_key_values.${l}.value`, v],
      { axis: 2 },
      `present.${l}.value`,
    );
    const q5 = g.op("Reshape", [q, groups]); // (B,NKV,G,S,D)
    const kT = g.op("Transpose", [g.op("Unsqueeze", [keys, ax2])], { perm: [0, 1, 2, 4, 3] }); // (B,NKV,1,D,T)
    const scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q5, kT]), scale]), bias]); // (B,NKV,G,S,T)
    const probs = g.op("Softmax", [scores], { axis: -1 });
    const att = g.op("MatMul", [probs, g.op("Unsqueeze", [values, ax2])]); // (B,NKV,G,S,D)
    const merged = g.op("Reshape", [
      g.op("Transpose", [g.op("Reshape", [att, ungroup])], { perm: [0, 2, 1, 3] }),
      merge,
    ]); // (B,S,NH·D)
    const x2 = g.op("Add", [x, linear(merged, `${p}.self_attn.o_proj.weight`)]);
    const xn2 = rmsnorm(x2, `${p}.post_attention_layernorm.weight`);
    const gate = linear(xn2, `${p}.mlp.gate_proj.weight`);
    const up = linear(xn2, `${p}.mlp.up_proj.weight`);
    const h = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up]); // (B,S,F)
    x = g.op("Add", [x2, linear(h, `${p}.mlp.down_proj.weight`)]);
  }
  const lm = c.tiedEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  g.op(
    "MatMul",
    [rmsnorm(x, "model.norm.weight"), g.op("Transpose", [lm], { perm: [1, 0] })],
    {},
    "logits",
  );

  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "webloco",
    docString: "LlamaForCausalLM exported by webloco (see README.md beside it)",
    metadataProps: [
      { key: "runId", value: meta.runId },
      { key: "window", value: String(meta.window) },
      { key: "modelHash", value: meta.modelHash },
    ],
    graph: {
      name: "llama",
      node: g.nodes,
      initializer: g.initializers,
      input: inputs,
      output: outputs,
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Checks that `bytes` is an ONNX model of this exporter whose metadata names `meta`'s model
 * (so an `onnx/model.onnx` from another export or window is refused before it generates).
 * Throws {@linkcode ExportError}.
 */
export function checkOnnxModel(bytes: Uint8Array, meta: ExportMeta, where = ONNX_FILE): void {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch {
    throw new ExportError(`${where}: not an ONNX model (corrupted?)`);
  }
  const props = new Map(model.metadataProps.map((p) => [p.key, p.value]));
  if (model.producerName !== "webloco" || !props.has("modelHash")) {
    throw new ExportError(`${where}: not written by webloco's export (no model hash to check)`);
  }
  const want: Record<string, string> = {
    runId: meta.runId,
    window: String(meta.window),
    modelHash: meta.modelHash,
  };
  for (const [key, value] of Object.entries(want)) {
    if (props.get(key) !== value) {
      throw new ExportError(
        `${where}: ${key} ${props.get(key)}, model.safetensors has ${value} (a mismatched export)`,
      );
    }
  }
}
