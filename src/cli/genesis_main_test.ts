import { assert, assertEquals } from "../testing/assert.ts";
import { runMain } from "../testing/run_main.ts";
import { hex } from "../util/hex.ts";
import { runIdOf } from "../protocol/genesis.ts";
import { readGenesisFile } from "./genesis_file.ts";

const MAIN = new URL("./genesis_main.ts", import.meta.url).pathname;
const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

async function genesis(...args: string[]) {
  const r = await runMain(MAIN, args, ["--allow-read", "--allow-write", "--allow-env"]);
  return { ...r, stdout: r.stdout.trim() };
}

Deno.test("genesis CLI writes a local genesis, checks it, and reports bad input in one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/genesis.json`;
    const made = await genesis(
      "--out",
      path,
      "--validator",
      ALICE,
      "--start",
      "1750000000000",
      "--window-ms",
      "5000",
    );
    assertEquals(made.code, 0, made.stderr);
    const g = await readGenesisFile(path);
    assertEquals([g.genesisTime, g.windowMs, g.validators], [1_750_000_000_000, 5000, [ALICE]]);
    assertEquals(made.stdout, hex(runIdOf(g)));
    const checked = await genesis("--check", path);
    assertEquals([checked.code, checked.stdout], [0, made.stdout]);
    const again = await genesis("--out", path, "--validator", ALICE);
    assertEquals(again.code, 1);
    assert(again.stderr.includes("refusing to overwrite"), again.stderr);
    const badValidator = await genesis("--out", `${dir}/x.json`, "--validator", "5Grw");
    assertEquals(badValidator.code, 1);
    assertEquals(
      badValidator.stderr,
      'error: local genesis: validators[0] must be an SS58 address, got "5Grw"\n',
    );
    await Deno.writeTextFile(
      `${dir}/bad.json`,
      JSON.stringify({ ...g, sparseloco: { ...g.sparseloco, beta: 1.5 } }),
    );
    const bad = await genesis("--check", `${dir}/bad.json`);
    assertEquals(bad.code, 1);
    assertEquals(
      bad.stderr,
      `error: ${dir}/bad.json: sparseloco.beta must be in [0, 1), got 1.5\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
