/**
 * The flat parameter layout: every tensor lives in one Float32 buffer at a named offset.
 * Names follow Hugging Face LLaMA (`model.layers.0.self_attn.q_proj.weight`) for export.
 * The layout stays the model's view when the GPU splits a flat buffer past one binding: the
 * entries are its split points (`Ops.tensor`), so each named tensor lies in one GPU buffer.
 */
import type { ModelConfig } from "./config.ts";

/** One named tensor in the flat buffer. Offsets and sizes count float32 elements. */
export interface ParamEntry {
  name: string;
  shape: number[];
  offset: number;
  size: number;
  /** AdamW weight decay applies to matrices, not to norm gains. */
  decay: boolean;
}

/** The offset table plus the buffer length. */
export interface ParamLayout {
  entries: ParamEntry[];
  byName: Map<string, ParamEntry>;
  /** Total elements including alignment padding. */
  length: number;
  /** Elements that are parameters (no padding). */
  count: number;
}

/** Tensors start on 64 elements (256 bytes) so that each can be bound alone on the GPU. */
export const PARAM_ALIGN = 64;

/** Builds the layout of a configuration. */
export function paramLayout(c: ModelConfig): ParamLayout {
  const D = c.dModel / c.nHeads;
  const shapes: [string, number[]][] = [["model.embed_tokens.weight", [c.vocabSize, c.dModel]]];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}`;
    shapes.push(
      [`${p}.input_layernorm.weight`, [c.dModel]],
      [`${p}.self_attn.q_proj.weight`, [c.nHeads * D, c.dModel]],
      [`${p}.self_attn.k_proj.weight`, [c.nKvHeads * D, c.dModel]],
      [`${p}.self_attn.v_proj.weight`, [c.nKvHeads * D, c.dModel]],
      [`${p}.self_attn.o_proj.weight`, [c.dModel, c.nHeads * D]],
      [`${p}.post_attention_layernorm.weight`, [c.dModel]],
      [`${p}.mlp.gate_proj.weight`, [c.ffnHidden, c.dModel]],
      [`${p}.mlp.up_proj.weight`, [c.ffnHidden, c.dModel]],
      [`${p}.mlp.down_proj.weight`, [c.dModel, c.ffnHidden]],
    );
  }
  shapes.push(["model.norm.weight", [c.dModel]]);
  if (!c.tiedEmbeddings) shapes.push(["lm_head.weight", [c.vocabSize, c.dModel]]);

  const entries: ParamEntry[] = [];
  let offset = 0, count = 0;
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    entries.push({ name, shape, offset, size, decay: shape.length === 2 });
    offset += Math.ceil(size / PARAM_ALIGN) * PARAM_ALIGN;
    count += size;
  }
  return { entries, byName: new Map(entries.map((e) => [e.name, e])), length: offset, count };
}
