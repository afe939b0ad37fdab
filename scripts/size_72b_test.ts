import { assert, assertEquals } from "../src/testing/assert.ts";
import { paramLayout } from "../src/model/params.ts";
import { CONFIG_72B, payloadBytes, stageParams, updateDoc } from "./size_72b.ts";

Deno.test("size_72b docs/72B.md holds exactly what the script computes", async () => {
  const doc = await Deno.readTextFile(new URL("../docs/72B.md", import.meta.url));
  assertEquals(doc, updateDoc(doc), "docs/72B.md is stale: run deno run -A scripts/size_72b.ts");
});

Deno.test("size_72b stages cover every parameter and payloads shrink with Rice coding", () => {
  const n = paramLayout(CONFIG_72B).count;
  assertEquals(stageParams(CONFIG_72B, 8).reduce((a, b) => a + b, 0), n);
  assert(n > 72e9 && n < 73e9, `${n} parameters`);
  const packed = payloadBytes(CONFIG_72B, 0), rice = payloadBytes(CONFIG_72B, 1);
  // Packed: 64 × (12 + 2) bits = 112 bytes per 4096-entry tile, ≈ 146× below dense f32.
  assert(Math.abs((4 * n) / packed - 146) < 2, `packed ${packed}`);
  assert(rice < 0.7 * packed, `rice ${rice} vs packed ${packed}`);
});
