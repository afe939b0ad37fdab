import { cpuOps } from "../backend/cpu_ops.ts";
import { presetConfig } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { Llama } from "../model/llama.ts";
import { paramLayout } from "../model/params.ts";
import { assert, assertEquals, assertNotEquals } from "../testing/assert.ts";
import { Rng } from "../util/rng.ts";
import { Generator } from "./generator.ts";
import { argmax, sampleToken } from "./sample_token.ts";

const config = { ...presetConfig("tiny"), context: 16 };
// θ₀ scaled up: its logits are near-uniform and greedy would repeat one token; these vary.
const params = initParams(paramLayout(config), config, 11).map((x) => x * 8);
const prompt = Uint32Array.from(new TextEncoder().encode("In the"));
const GREEDY = { temperature: 0, topK: 0, topP: 1 };

async function collect(g: AsyncGenerator<number>): Promise<number[]> {
  const out: number[] = [];
  for await (const id of g) out.push(id);
  return out;
}

/** The reference: a model exactly as long as the sequence (no padding), argmax of its last row. */
async function referenceGreedy(ids: number[], n: number): Promise<number[]> {
  const ops = cpuOps(32);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const ctx = ids.slice(-config.context);
    const m = new Llama(ops, config, 1, ctx.length, { forwardOnly: true });
    ops.write(m.params, params);
    m.setBatch(Uint32Array.from(ctx), new Uint32Array(ctx.length));
    const logits = await ops.read(m.forward());
    const V = config.vocabSize, last = logits.subarray((ctx.length - 1) * V, ctx.length * V);
    let best = 0;
    for (let v = 1; v < V; v++) if (last[v] > last[best]) best = v;
    ids.push(best);
    out.push(best);
  }
  return out;
}

Deno.test("Generator greedy equals an argmax loop over the forward, past the context", async () => {
  const n = 14; // 6 + 14 > 16: the window slides
  const g = new Generator(cpuOps(32), config, params);
  const got = await collect(g.generate(prompt, n, GREEDY, new Rng(1)));
  assert(new Set(got).size > n / 2, `greedy tokens should vary: ${got}`);
  assertEquals(got, await referenceGreedy([...prompt], n));
  const again = await collect(
    new Generator(cpuOps(32), config, params).generate(prompt, n, GREEDY, new Rng(9)),
  );
  assertEquals(again, got, "greedy must not depend on the seed");
  const topK1 = await collect(
    g.generate(prompt, n, { temperature: 1, topK: 1, topP: 1 }, new Rng(2)),
  );
  assertEquals(topK1, got, "top-k 1 is greedy");
});

Deno.test("Generator sampling is deterministic per seed", async () => {
  const g = new Generator(cpuOps(32), config, params);
  const s = { temperature: 1.5, topK: 0, topP: 1 };
  const a = await collect(g.generate(prompt, 10, s, new Rng(5)));
  assertEquals(await collect(g.generate(prompt, 10, s, new Rng(5))), a);
  assertNotEquals(await collect(g.generate(prompt, 10, s, new Rng(6))), a);
});

Deno.test("sampleToken keeps only the top-k and top-p tokens", () => {
  const logits = Float32Array.from([0, 3, 1, 2.9, -1, 2.8]);
  const rng = new Rng(3);
  const seen = (o: { temperature: number; topK: number; topP: number }) => {
    const s = new Set<number>();
    for (let i = 0; i < 2000; i++) s.add(sampleToken(logits, o, rng));
    return [...s].sort();
  };
  assertEquals(seen({ temperature: 1, topK: 2, topP: 1 }), [1, 3]);
  // softmax: p(1)≈0.33, p(3)≈0.30, p(5)≈0.27: 0.5 needs two tokens, 0.7 three.
  assertEquals(seen({ temperature: 1, topK: 0, topP: 0.5 }), [1, 3]);
  assertEquals(seen({ temperature: 1, topK: 0, topP: 0.7 }), [1, 3, 5]);
  assertEquals(seen({ temperature: 1, topK: 0, topP: 1 }), [0, 1, 2, 3, 4, 5]);
  assertEquals(seen({ temperature: 0, topK: 0, topP: 1 }), [argmax(logits)]);
  // A low temperature concentrates the draws on the argmax.
  let hits = 0;
  for (let i = 0; i < 1000; i++) {
    hits += sampleToken(logits, { temperature: 0.05, topK: 0, topP: 1 }, rng) === 1 ? 1 : 0;
  }
  assert(hits > 850, `temperature 0.05: argmax drawn ${hits}/1000 times`);
});
