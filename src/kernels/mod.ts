/** Every kernel launcher (WGSL on the GPU runtime), named like its reference. */
export * from "./matmul.ts";
export * from "./embedding.ts";
export * from "./rmsnorm.ts";
export * from "./rope.ts";
export * from "./attention.ts";
export * from "./swiglu.ts";
export * from "./cross_entropy.ts";
export * from "./residual.ts";
export * from "./grad_clip.ts";
export * from "./adamw.ts";
export * from "./matmul_f16.ts";
