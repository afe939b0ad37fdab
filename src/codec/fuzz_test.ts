import { assert, assertEquals } from "../testing/assert.ts";
import { CodecError } from "./errors.ts";
import { type FuzzTarget, fuzzTarget } from "./fuzz.ts";

/** A toy decoder: a length byte and that many bytes; bugs switched on by the first byte. */
function toy(bug: "none" | "crash" | "lines" | "hang"): FuzzTarget {
  return {
    name: `toy-${bug}`,
    about: "toy",
    seeds: () => Promise.resolve([{ bytes: Uint8Array.of(3, 1, 2, 3), fields: [] }]),
    errors: [CodecError],
    decode(input) {
      if (input.length === 0) throw new CodecError("empty input");
      if (input[0] === 0xee && bug === "crash") throw new TypeError("boom");
      if (input[0] === 0xee && bug === "lines") throw new CodecError("two\nlines");
      if (input[0] === 0xee && bug === "hang") return new Promise(() => {});
      if (input[0] !== input.length - 1) throw new CodecError(`length ${input[0]}`);
      return "accepted";
    },
  };
}

Deno.test("fuzzTarget counts accepted and rejected inputs of a sound decoder", async () => {
  const s = await fuzzTarget(toy("none"), { seed: 3, inputs: 2000 });
  assertEquals([s.inputs, s.failed, s.failures], [2000, 0, []]);
  assertEquals(s.accepted + s.rejected, 2000);
  assert(s.accepted > 50 && s.rejected > 1000, JSON.stringify(s));
  assert(s.reasons["length N"] > 0, JSON.stringify(s.reasons));
});

Deno.test("fuzzTarget reports a crash, a multi-line refusal and a hang as failures", async () => {
  for (const bug of ["crash", "lines", "hang"] as const) {
    // A short hang bound only where the bug is a hang: on a loaded machine a sound input can
    // take over 20 ms (a GC pause), which is also reported, so look for the bug's own failure.
    const s = await fuzzTarget(toy(bug), {
      seed: 3,
      inputs: 3000,
      hangMs: bug === "hang" ? 20 : undefined,
    });
    assert(s.failed > 0, `${bug}: ${JSON.stringify(s)}`);
    const what = { crash: "threw TypeError: boom", lines: "several lines", hang: "hung" }[bug];
    const found = s.failures.find((f) => f.what.includes(what));
    assert(found !== undefined, JSON.stringify(s.failures));
    assert(/^ee/.test(found.hex), found.hex);
  }
});

Deno.test("fuzzTarget is deterministic for a seed", async () => {
  const a = await fuzzTarget(toy("none"), { seed: 5, inputs: 500 });
  const b = await fuzzTarget(toy("none"), { seed: 5, inputs: 500 });
  const c = await fuzzTarget(toy("none"), { seed: 6, inputs: 500 });
  assertEquals([a.accepted, a.rejected, a.reasons], [b.accepted, b.rejected, b.reasons]);
  assert(a.accepted !== c.accepted || a.rejected !== c.rejected, "another seed, other inputs");
});
