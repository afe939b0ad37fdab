/**
 * SparseLoCo, CPU reference: tiles, compression (error feedback, per-tile top-k, 2-bit
 * quantization), deterministic aggregation and the outer step, and whole-model helpers.
 *
 * @module
 */

export * from "../../reference/sparseloco/tiles.ts";
export * from "../../reference/sparseloco/select_top_k.ts";
export * from "../../reference/sparseloco/quantize.ts";
export * from "../../reference/sparseloco/compress.ts";
export * from "../../reference/sparseloco/compress_model.ts";
export * from "../../reference/sparseloco/pseudo_gradient.ts";
export * from "./aggregate.ts";
export * from "./model_round.ts";
