/**
 * The registry of WGSL files. Literal `new URL(…, import.meta.url)` lets Vite bundle them for the
 * browser and Deno read them from disk; every kernel family has one file.
 */
import type { ShaderSource } from "../gpu/runtime.ts";

const SHADERS: Record<string, URL> = {
  residual: new URL("../../shaders/residual.wgsl", import.meta.url),
  matmul: new URL("../../shaders/matmul.wgsl", import.meta.url),
  embedding: new URL("../../shaders/embedding.wgsl", import.meta.url),
  rmsnorm: new URL("../../shaders/rmsnorm.wgsl", import.meta.url),
  rope: new URL("../../shaders/rope.wgsl", import.meta.url),
  attention: new URL("../../shaders/attention.wgsl", import.meta.url),
  swiglu: new URL("../../shaders/swiglu.wgsl", import.meta.url),
  cross_entropy: new URL("../../shaders/cross_entropy.wgsl", import.meta.url),
  adamw: new URL("../../shaders/adamw.wgsl", import.meta.url),
  grad_clip: new URL("../../shaders/grad_clip.wgsl", import.meta.url),
  sparseloco: new URL("../../shaders/sparseloco.wgsl", import.meta.url),
};

/** Names of all shader files. */
export const SHADER_NAMES: readonly string[] = Object.keys(SHADERS);

/** Fetches every shader once and returns a synchronous lookup. */
export async function loadShaders(): Promise<ShaderSource> {
  const sources = new Map<string, string>();
  await Promise.all(SHADER_NAMES.map(async (name) => {
    const res = await fetch(SHADERS[name]);
    if (!res.ok) throw new Error(`cannot load shader ${name} from ${SHADERS[name]}: ${res.status}`);
    sources.set(name, await res.text());
  }));
  return (name: string) => {
    const s = sources.get(name);
    if (s === undefined) throw new Error(`unknown shader "${name}" (known: ${SHADER_NAMES.join(", ")})`);
    return s;
  };
}
