import { assert, assertEquals } from "../testing/assert.ts";
import { GAUNTLET_DEFAULTS } from "./gauntlet_spec.ts";
import { GenesisError, validateGenesis } from "./genesis.ts";
import { fieldPaths, GENESIS_SCHEMA, genesisFieldTable } from "./genesis_schema.ts";
import { localGenesis } from "./local_genesis.ts";

const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const SHA = "ab".repeat(32);

/** A genesis with every field the format has, optional ones included. */
function fullGenesis(): Record<string, unknown> {
  const g = localGenesis({
    validators: [ALICE],
    genesisTime: 1_750_000_000_000,
    bootstrap: ["/ip4/127.0.0.1/tcp/4001"],
    model: { ...localGenesis({ validators: [ALICE], genesisTime: 0 }).model, vocabSize: 300 },
    tokenizer: { path: "tokenizer.json", sha256: SHA, bytes: 10 },
    data: { corpus: [{ path: "a.txt", sha256: SHA, bytes: 5 }], span: 4096 },
  });
  return structuredClone({
    ...g,
    gauntlet: { ...GAUNTLET_DEFAULTS },
    rounds: { outerDelay: 1 },
    quorum: { votes: 1, fallbackMs: 1000 },
  });
}

/** Every field path of a value, as the schema writes them (`data.corpus[].sha256`). */
function pathsOf(v: unknown, prefix = ""): string[] {
  if (typeof v !== "object" || v === null) return [];
  if (Array.isArray(v)) return v.length > 0 ? pathsOf(v[0], `${prefix}[]`) : [];
  return Object.entries(v).flatMap(([k, x]) => {
    const p = prefix === "" ? k : `${prefix}.${k}`;
    return [
      p,
      ...(typeof x === "object" && x !== null && !Array.isArray(x) ? pathsOf(x, p) : []),
      ...(Array.isArray(x) && typeof x[0] === "object" ? pathsOf(x, p) : []),
    ];
  });
}

function accepts(g: Record<string, unknown>): boolean {
  try {
    validateGenesis(g);
    return true;
  } catch (e) {
    if (e instanceof GenesisError) return false;
    throw e;
  }
}

/** `g` with the field at `path` ("inner.lr", top level "windowMs") set to `value`. */
function withField(path: string, value: unknown): Record<string, unknown> {
  const g = fullGenesis();
  const parts = path.split(".");
  let o = g as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) o = o[p] as Record<string, unknown>;
  o[parts.at(-1)!] = value;
  // The one cross-field rule among the probed ranges: k ≤ maxSide².
  if (path === "sparseloco.maxSide") (g.sparseloco as Record<string, unknown>).k = 1;
  return g;
}

Deno.test("genesis schema is the table of docs/GENESIS.md", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/GENESIS.md", import.meta.url));
  const begin = doc.indexOf("-->\n", doc.indexOf("<!-- fields:begin")) + 4;
  const end = doc.indexOf("<!-- fields:end -->");
  assert(begin > 4 && end > begin, "docs/GENESIS.md has the fields markers");
  // Cells compared trimmed: `deno fmt` pads the columns.
  const rows = (t: string) =>
    t.trim().split("\n").map((l) =>
      l.split("|").map((c) => c.trim().replace(/^-+$/, "-")).join("|")
    );
  assertEquals(
    rows(doc.slice(begin, end)),
    rows(genesisFieldTable()),
    "regenerate the table with `deno task genesis --doc`",
  );
});

Deno.test("genesis schema names every field a complete genesis has, and no other", () => {
  const g = fullGenesis();
  assert(accepts(g), "the complete genesis is valid");
  assertEquals(pathsOf(g).sort(), fieldPaths().sort());
  // Every field of the schema is checked: an unknown one next to it is refused.
  for (const section of Object.keys(GENESIS_SCHEMA)) {
    if (section === "data.corpus[]") continue;
    const target = section === "" ? "surplus" : `${section}.surplus`;
    assert(!accepts(withField(target, 1)), `${target} is refused`);
  }
  // And every required one must be there.
  for (const [section, fields] of Object.entries(GENESIS_SCHEMA)) {
    if (section === "data.corpus[]") continue;
    for (const [k, f] of Object.entries(fields)) {
      const path = section === "" ? k : `${section}.${k}`;
      assertEquals(accepts(withField(path, undefined)), f.optional === true, path);
    }
  }
});

/** `integer in [a, b]`, `in [a, b)`, `number > a`, `number ≥ a` in a field's doc. */
function rangeOf(doc: string): { lo: number; hi: number; int: boolean; hiOpen: boolean } | null {
  if (doc.includes("numbers in")) return null; // a list (missFactors)
  const m = /(integer |number )?in \[(-?[\d.e+]+), (-?[\d.e+]+)([\])])/.exec(doc);
  if (m !== null) {
    return { lo: +m[2], hi: +m[3], int: m[1] === "integer ", hiOpen: m[4] === ")" };
  }
  const g = /number ([>≥]) (-?[\d.e]+)/.exec(doc);
  if (g === null) return null;
  // "> a": a itself is refused, so test just above it as the least accepted value.
  return g[1] === ">"
    ? { lo: +g[2] + 1e-9, hi: Infinity, int: false, hiOpen: true }
    : { lo: +g[2], hi: Infinity, int: false, hiOpen: true };
}

Deno.test("genesis schema ranges are the validator's", () => {
  let probed = 0;
  for (const section of ["", "data", "inner", "sparseloco", "gauntlet"]) {
    for (const [k, f] of Object.entries(GENESIS_SCHEMA[section])) {
      const r = rangeOf(f.doc);
      if (r === null) continue;
      const path = section === "" ? k : `${section}.${k}`;
      const step = r.int ? 1 : Math.max(1, Math.abs(r.lo)) * 1e-6;
      assert(accepts(withField(path, r.lo)), `${path} = ${r.lo} is accepted`);
      assert(!accepts(withField(path, r.lo - step)), `${path} = ${r.lo - step} is refused`);
      if (Number.isFinite(r.hi)) {
        assertEquals(accepts(withField(path, r.hi)), !r.hiOpen, `${path} = ${r.hi}`);
        const above = r.hi + (r.int ? 1 : Math.max(1, Math.abs(r.hi)) * 1e-6);
        assert(!accepts(withField(path, above)), `${path} = ${above} is refused`);
      }
      if (r.int) assert(!accepts(withField(path, r.lo + 0.5)), `${path} must be an integer`);
      probed++;
    }
  }
  assert(probed >= 40, `probed ${probed} ranges`);
});
