/**
 * The registry of WGSL files. Literal `new URL(…, import.meta.url)` lets Vite bundle them for the
 * browser and Deno read them from disk; every kernel family has one file, and a family whose
 * shaders share code lists several, concatenated in order (the tiled matmul core,
 * shaders/matmul_tiled.wgsl, follows each operand format's loads; shaders/f16_pack.wgsl follows
 * every shader that can read or write packed f16 activations).
 */
import type { ShaderSource } from "../gpu/runtime.ts";

const TILED = new URL("../../shaders/matmul_tiled.wgsl", import.meta.url);
/** pack_f16 / round_f16 / half_at: every shader that reads or writes packed f16 storage. */
const F16_PACK = new URL("../../shaders/f16_pack.wgsl", import.meta.url);
const RMSNORM = new URL("../../shaders/rmsnorm.wgsl", import.meta.url);
const CROSS_ENTROPY = new URL("../../shaders/cross_entropy.wgsl", import.meta.url);

const SHADERS: Record<string, URL | URL[]> = {
  residual: new URL("../../shaders/residual.wgsl", import.meta.url),
  matmul: [new URL("../../shaders/matmul.wgsl", import.meta.url), TILED],
  matmul_f16: [new URL("../../shaders/matmul_f16.wgsl", import.meta.url), F16_PACK, TILED],
  // Compiled only where the device has `shader-f16` (it starts with `enable f16;`).
  matmul_f16_native: [new URL("../../shaders/matmul_f16_native.wgsl", import.meta.url), TILED],
  cast_f16: [new URL("../../shaders/cast_f16.wgsl", import.meta.url), F16_PACK],
  embedding: new URL("../../shaders/embedding.wgsl", import.meta.url),
  rmsnorm: [RMSNORM, new URL("../../shaders/wg_sum.wgsl", import.meta.url), F16_PACK],
  // Compiled only where the runtime uses subgroups (it starts with `enable subgroups;`).
  rmsnorm_subgroups: [new URL("../../shaders/wg_sum_subgroups.wgsl", import.meta.url), RMSNORM, F16_PACK],
  rope: new URL("../../shaders/rope.wgsl", import.meta.url),
  attention: [new URL("../../shaders/attention.wgsl", import.meta.url), F16_PACK],
  swiglu: [new URL("../../shaders/swiglu.wgsl", import.meta.url), F16_PACK],
  cross_entropy: [CROSS_ENTROPY, new URL("../../shaders/wg_merge.wgsl", import.meta.url)],
  // Compiled only where the runtime uses subgroups (it starts with `enable subgroups;`).
  cross_entropy_subgroups: [new URL("../../shaders/wg_merge_subgroups.wgsl", import.meta.url), CROSS_ENTROPY],
  adamw: new URL("../../shaders/adamw.wgsl", import.meta.url),
  grad_clip: new URL("../../shaders/grad_clip.wgsl", import.meta.url),
  sparseloco: new URL("../../shaders/sparseloco.wgsl", import.meta.url),
};

/** Names of all shaders (each one WGSL module). */
export const SHADER_NAMES: readonly string[] = Object.keys(SHADERS);

/** Fetches every shader once and returns a synchronous lookup. */
export async function loadShaders(): Promise<ShaderSource> {
  const sources = new Map<string, string>();
  const text = new Map<string, Promise<string>>();
  const fetchOnce = (url: URL) => {
    let t = text.get(url.href);
    if (t === undefined) {
      t = fetch(url).then(async (res) => {
        if (!res.ok) throw new Error(`cannot load shader file ${url}: ${res.status}`);
        return await res.text();
      });
      text.set(url.href, t);
    }
    return t;
  };
  await Promise.all(SHADER_NAMES.map(async (name) => {
    const parts = await Promise.all([SHADERS[name]].flat().map(fetchOnce));
    sources.set(name, parts.join("\n"));
  }));
  return (name: string) => {
    const s = sources.get(name);
    if (s === undefined) {
      throw new Error(`unknown shader "${name}" (known: ${SHADER_NAMES.join(", ")})`);
    }
    return s;
  };
}
