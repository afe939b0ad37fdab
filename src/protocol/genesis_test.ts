import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { ConfigError } from "../model/config.ts";
import { hex } from "../util/hex.ts";
import {
  canonicalGenesis,
  gauntletOf,
  type Genesis,
  GenesisError,
  outerDelayOf,
  parseGenesis,
  runIdOf,
  validateGenesis,
} from "./genesis.ts";
import { localGenesis } from "./local_genesis.ts";
import { GAUNTLET_DEFAULTS } from "./gauntlet_spec.ts";

const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const BOB = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
const T0 = 1_750_000_000_000;
const SHA = "ab".repeat(32);

function base(): Genesis {
  return localGenesis({
    validators: [ALICE],
    genesisTime: T0,
    bootstrap: ["/ip4/127.0.0.1/tcp/4001/ws"],
  });
}

/** A deep copy with every object's keys in reverse order. */
function reversed(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reversed);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(
      Object.keys(v).reverse().map((k) => [k, reversed((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

type Json = Record<string, unknown>;

function leaves(v: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof v === "object" && v !== null) {
    const out: (string | number)[][] = [];
    for (const [k, x] of Object.entries(v)) {
      out.push(...leaves(x, [...path, Array.isArray(v) ? Number(k) : k]));
    }
    return out;
  }
  return [path];
}

function withValue(g: unknown, path: (string | number)[], value: unknown): Json {
  const copy = structuredClone(g) as Json;
  let o = copy as Record<string | number, unknown>;
  for (const p of path.slice(0, -1)) o = o[p] as Record<string | number, unknown>;
  o[path[path.length - 1]] = value;
  return copy;
}

function expectError(g: unknown, message: string): void {
  const e = assertThrows(() => validateGenesis(g, "genesis.json"), GenesisError);
  assertEquals(e.message, message);
  assert(e instanceof ConfigError, "CLIs print a GenesisError as a user error");
}

Deno.test("localGenesis builds a valid genesis with a 32-byte run id", () => {
  const g = base();
  assertEquals(validateGenesis(g), g);
  const id = runIdOf(g);
  assertEquals(id.length, 32);
  assertEquals(hex(runIdOf(base())), hex(id));
  assertEquals(g.sparseloco.H, 30);
  assertEquals(g.maxContributors, 20);
});

Deno.test("runIdOf is the same for the same content in another key order or layout", () => {
  const g = base();
  const text = JSON.stringify(reversed(g), null, 2);
  const parsed = parseGenesis(text, "g.json");
  assertEquals(hex(runIdOf(parsed)), hex(runIdOf(g)));
  assertEquals(canonicalGenesis(parsed), canonicalGenesis(g));
  const canonical = new TextDecoder().decode(canonicalGenesis(g));
  assert(!/\s/.test(canonical.replaceAll("/ip4/127.0.0.1/tcp/4001/ws", "")), "no whitespace");
  assert(canonical.startsWith('{"bootstrap":'), canonical.slice(0, 40));
});

Deno.test("runIdOf changes when any field changes", () => {
  const g = base() as unknown as Json;
  g.tokenizer = { path: "tok.json", sha256: SHA }; // so the tokenizer fields are covered too
  g.data = { ...(g.data as Json), corpus: [{ path: "a.txt", sha256: SHA }] };
  const ids = new Set([hex(runIdOf(validateGenesis(g)))]);
  const paths = leaves(g);
  assert(paths.length >= 40, `only ${paths.length} fields`);
  for (const path of paths) {
    if (path[0] === "version") continue; // only one version exists
    const v = path.reduce((o: unknown, p) => (o as Record<string | number, unknown>)[p], g);
    const candidates: unknown[] = typeof v === "number"
      ? [v + 1, v - 1, v / 2, v * 1.5 + 0.001]
      : typeof v === "boolean"
      ? [!v]
      : path[path.length - 1] === "sha256"
      ? ["cd".repeat(32)]
      : path[0] === "validators"
      ? [BOB]
      : typeof v === "string"
      ? [v + "x", v === "rice" ? "packed" : "rice", "/dns4/example.org/tcp/443/wss"]
      : [];
    let changed = false;
    for (const c of candidates) {
      let next: Genesis;
      try {
        next = validateGenesis(withValue(g, path, c));
      } catch {
        continue;
      }
      const id = hex(runIdOf(next));
      assert(!ids.has(id), `changing ${path.join(".")} to ${c} kept a known run id`);
      ids.add(id);
      changed = true;
      break;
    }
    assert(changed, `no valid change found for ${path.join(".")}`);
  }
  // Adding a validator or a bootstrap address changes it too.
  for (const [k, extra] of [["validators", BOB], ["bootstrap", "/ip4/10.0.0.1/tcp/1"]] as const) {
    const id = hex(runIdOf(validateGenesis({ ...g, [k]: [...(g[k] as string[]), extra] })));
    assert(!ids.has(id), k);
    ids.add(id);
  }
});

Deno.test("validateGenesis names the field in one-line errors", () => {
  const g = base() as unknown as Json;
  const set = (path: string, value: unknown) => withValue(g, path.split("."), value);
  const drop = (path: string) => {
    const c = structuredClone(g) as Json;
    const parts = path.split(".");
    let o = c;
    for (const p of parts.slice(0, -1)) o = o[p] as Json;
    delete o[parts[parts.length - 1]];
    return c;
  };
  expectError(
    set("sparseloco.beta", 1.5),
    "genesis.json: sparseloco.beta must be in [0, 1), got 1.5",
  );
  expectError(
    set("sparseloco.beta", "0.9"),
    'genesis.json: sparseloco.beta must be in [0, 1), got "0.9"',
  );
  expectError(
    set("sparseloco.H", 0),
    "genesis.json: sparseloco.H must be an integer in [1, 1000000], got 0",
  );
  expectError(
    set("sparseloco.k", 5000),
    "genesis.json: sparseloco.k must be an integer in [1, 4096], got 5000",
  );
  expectError(
    set("sparseloco.alpha", 0),
    "genesis.json: sparseloco.alpha must be a number > 0, got 0",
  );
  expectError(
    set("sparseloco.indexMode", 1),
    'genesis.json: sparseloco.indexMode must be "packed" or "rice", got 1',
  );
  expectError(
    set("sparseloco.maxSide", 512),
    "genesis.json: sparseloco.maxSide must be an integer in [1, 256], got 512",
  );
  expectError(
    set("inner.minRatio", 1.1),
    "genesis.json: inner.minRatio must be in [0, 1], got 1.1",
  );
  expectError(set("inner.eps", 0), "genesis.json: inner.eps must be a number > 0, got 0");
  expectError(
    set("inner.weightDecay", -0.1),
    "genesis.json: inner.weightDecay must be a number ≥ 0, got -0.1",
  );
  expectError(
    set("inner.warmup", 1.5),
    "genesis.json: inner.warmup must be an integer in [0, 1000000000000], got 1.5",
  );
  expectError(set("version", 2), "genesis.json: version must be 1, got 2");
  expectError(
    set("name", "my run"),
    'genesis.json: name must be 1 to 64 of A-Z a-z 0-9 . _ - starting with a letter or digit, got "my run"',
  );
  expectError(
    set("windowMs", 50),
    "genesis.json: windowMs must be an integer in [100, 86400000], got 50",
  );
  expectError(
    set("genesisTime", -1),
    "genesis.json: genesisTime must be an integer in [0, 8640000000000000], got -1",
  );
  expectError(
    set("maxContributors", 65),
    "genesis.json: maxContributors must be an integer in [1, 64], got 65",
  );
  expectError(
    set("checkpointInterval", 0),
    "genesis.json: checkpointInterval must be an integer in [1, 1000000], got 0",
  );
  expectError(set("validators", []), "genesis.json: validators must have 1 to 16 entries, got 0");
  expectError(
    set("validators", [ALICE, "5Grw"]),
    'genesis.json: validators[1] must be an SS58 address, got "5Grw"',
  );
  expectError(
    set("validators", [ALICE, "0x" + SHA]),
    `genesis.json: validators[1] must be an SS58 address, got "0x${SHA}"`,
  );
  expectError(
    set("validators", ["x".repeat(100)]),
    `genesis.json: validators[0] must be an SS58 address, got "${"x".repeat(76)}...`,
  );
  expectError(
    set("validators", [ALICE, ALICE]),
    `genesis.json: validators[1] repeats an earlier validator's key, got "${ALICE}"`,
  );
  expectError(
    set("bootstrap", ["127.0.0.1:4001"]),
    'genesis.json: bootstrap[0] must be a multiaddr ("/…", printable ASCII, ≤ 255 chars), got "127.0.0.1:4001"',
  );
  expectError(
    set("bootstrap", "/ip4/1.2.3.4"),
    'genesis.json: bootstrap must be an array, got "/ip4/1.2.3.4"',
  );
  expectError(
    set("tokenizer", "gpt2"),
    'genesis.json: tokenizer must be "bytes" or {"path", "sha256"}, got "gpt2"',
  );
  expectError(
    set("tokenizer", { path: "t.json", sha256: "AB".repeat(32) }),
    `genesis.json: tokenizer.sha256 must be 64 lower-case hex digits, got "${"AB".repeat(32)}"`,
  );
  expectError(
    set("tokenizer", { path: "t.json" }),
    'genesis.json: missing field "tokenizer.sha256"',
  );
  expectError(
    set("data.corpus", []),
    "genesis.json: data.corpus must have 1 to 4096 entries, got 0",
  );
  expectError(
    set("data.corpus", [{ path: "", sha256: SHA }]),
    'genesis.json: data.corpus[0].path must be a path or URL of 1 to 1024 characters (no control characters), got ""',
  );
  expectError(
    set("data.seed", 2 ** 32),
    "genesis.json: data.seed must be an integer in [0, 4294967295], got 4294967296",
  );
  expectError(
    set("data.validFraction", 1),
    "genesis.json: data.validFraction must be in [0, 1), got 1",
  );
  expectError(
    set("model.nHeads", 3),
    "genesis.json: model: dModel 64 is not divisible by nHeads 3",
  );
  expectError(
    set("model.vocabSize", 100),
    'genesis.json: model.vocabSize must be at least 256 for the "bytes" tokenizer, got 100',
  );
  expectError(set("model.extra", 1), 'genesis.json: model: unknown field "extra"');
  expectError({ ...g, extra: 1 }, 'genesis.json: unknown field "extra"');
  expectError(set("inner.momentum", 0.9), 'genesis.json: unknown field "inner.momentum"');
  expectError(drop("sparseloco.k"), 'genesis.json: missing field "sparseloco.k"');
  expectError(drop("validators"), 'genesis.json: missing field "validators"');
  expectError(set("inner", null), "genesis.json: inner must be an object, got null");
  expectError([], "genesis.json: must be an object, got []");
});

Deno.test("parseGenesis reports malformed JSON in one line", () => {
  const e = assertThrows(
    () => parseGenesis('{"version": 1,\n  "name": }', "g.json"),
    GenesisError,
    "g.json: not valid JSON",
  );
  assert(!e.message.includes("\n"), e.message);
});

Deno.test("localGenesis takes overrides and validates them", () => {
  const g = localGenesis({
    validators: [ALICE, BOB],
    genesisTime: T0,
    windowMs: 5000,
    sparseloco: { H: 5, indexMode: "packed" },
  });
  assertEquals([g.windowMs, g.sparseloco.H, g.sparseloco.indexMode, g.sparseloco.k], [
    5000,
    5,
    "packed",
    64,
  ]);
  assertThrows(
    () => localGenesis({ validators: [], genesisTime: T0 }),
    GenesisError,
    "local genesis: validators must have 1 to 16 entries",
  );
  assertThrows(
    () => localGenesis({ validators: [ALICE], genesisTime: T0, inner: { lr: -1 } }),
    GenesisError,
    "local genesis: inner.lr must be a number > 0, got -1",
  );
});

Deno.test("validateGenesis takes gauntlet overrides and keeps the run id of a genesis without", () => {
  const g = base();
  assertEquals("gauntlet" in g, false);
  assertEquals(gauntletOf(g), { ...GAUNTLET_DEFAULTS });
  const tuned = validateGenesis({ ...g, gauntlet: { evalBudget: 8, missFactors: [0.5, 0] } });
  assertEquals(gauntletOf(tuned).evalBudget, 8);
  assertEquals(gauntletOf(tuned).missFactors, [0.5, 0]);
  assertEquals(gauntletOf(tuned).ratingBeta, GAUNTLET_DEFAULTS.ratingBeta);
  assert(hex(runIdOf(tuned)) !== hex(runIdOf(g)), "scoring parameters are part of the run");
  const bad = g as unknown as Json;
  expectError(
    { ...bad, gauntlet: { evalBudget: 0 } },
    "genesis.json: gauntlet.evalBudget must be an integer in [1, 1024], got 0",
  );
  expectError(
    { ...bad, gauntlet: { copyBan: 1.5 } },
    "genesis.json: gauntlet.copyBan must be in [0, 1], got 1.5",
  );
  expectError({ ...bad, gauntlet: { nope: 1 } }, 'genesis.json: unknown field "gauntlet.nope"');
  expectError(
    { ...bad, gauntlet: { missFactors: [2] } },
    "genesis.json: gauntlet.missFactors[0] must be in [0, 1], got 2",
  );
});

Deno.test("validateGenesis takes rounds.outerDelay 0 or 1 and keeps the run id of a genesis without", () => {
  const g = base();
  assertEquals("rounds" in g, false);
  assertEquals(outerDelayOf(g), 0);
  const overlapped = validateGenesis({ ...g, rounds: { outerDelay: 1 } });
  assertEquals(outerDelayOf(overlapped), 1);
  assert(hex(runIdOf(overlapped)) !== hex(runIdOf(g)), "the round mode is part of the run");
  const bad = g as unknown as Json;
  expectError(
    { ...bad, rounds: { outerDelay: 2 } },
    "genesis.json: rounds.outerDelay must be an integer in [0, 1], got 2",
  );
  expectError({ ...bad, rounds: {} }, 'genesis.json: missing field "rounds.outerDelay"');
});

Deno.test("validateGenesis takes data.span from context + 1 and keeps the run id of a genesis without", () => {
  const g = base();
  assertEquals("span" in g.data, false);
  const spanned = validateGenesis({ ...g, data: { ...g.data, span: 8192 } });
  assertEquals(spanned.data.span, 8192);
  assert(hex(runIdOf(spanned)) !== hex(runIdOf(g)), "the data mode is part of the run");
  const bad = g as unknown as Json;
  const T = g.model.context;
  validateGenesis({ ...g, data: { ...g.data, span: T + 1 } });
  expectError(
    { ...bad, data: { ...g.data, span: T } },
    `genesis.json: data.span must be an integer in [${
      T + 1
    }, ${Number.MAX_SAFE_INTEGER}], got ${T}`,
  );
  expectError(
    { ...bad, data: { ...g.data, span: 1e4 + 0.5 } },
    `genesis.json: data.span must be an integer in [${
      T + 1
    }, ${Number.MAX_SAFE_INTEGER}], got 10000.5`,
  );
});
