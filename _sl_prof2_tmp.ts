import { openRuntime } from "./src/kernels/open_runtime.ts";
import { sparselocoCases } from "./test/kernels/sparseloco_cases.ts";
const rt = await openRuntime();
if (Deno.env.get("PROF")) rt.profile = new Map();
for (const c of sparselocoCases) {
  if (!c.shape.startsWith(Deno.args[0])) continue;
  const t0 = performance.now();
  const r = await c.run(rt);
  console.log(c.shape, performance.now() - t0, r.every((x) => x.ok));
}
console.log(rt.profile);
rt.destroy();
