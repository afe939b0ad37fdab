/**
 * Joining a run from another machine, with machines made of Linux network namespaces: a
 * validator listens on its host's 10.x address only; a peer on a second host, given only the
 * genesis file (a copy in its own folder), its own key and the validator's printed address,
 * fetches the corpus shard the genesis names from the run (only the validator's folder holds
 * it), listens on 0.0.0.0, announces its host address, trains, and is selected in a round record
 * that carries a validation loss. `deno task status` on the peer's host reads the run back
 * (contributors, credit, validation loss); with another run's genesis it says the run id does
 * not match, and with a closed port it says which port to open. Skipped where namespaces
 * cannot be made (not root).
 */

import { writeKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { sha256Sync } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { assert, assertEquals } from "./assert.ts";
import { NetnsLab, netnsUnavailable } from "./netns.ts";
import { denoRun, RoleWatch } from "./netns_roles.ts";

const STATUS_MAIN = new URL("../cli/status_main.ts", import.meta.url).pathname;
const WINDOW_MS = 8_000;

const unavailable = await netnsUnavailable();
if (unavailable !== null) console.log(`netns test skipped: ${unavailable}`);

Deno.test({
  name:
    "netns a peer on another host joins with the genesis file and a bootstrap address and is selected",
  ignore: unavailable !== null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await identityReady();
    const dir = await Deno.makeTempDir({ prefix: "webloco-netns-" });
    const seed = (n: number) => new Uint8Array(32).fill(n);
    const v = await writeKeyFile(`${dir}/validator.json`, { seed: seed(41) });
    await Deno.mkdir(`${dir}/joiner`);
    const p = await writeKeyFile(`${dir}/joiner/key.json`, { seed: seed(42) });
    // The corpus: a shard only the validator's machine holds (the shipped text, renamed).
    const corpus = await Deno.readFile(
      new URL("../../data/kjv_genesis_leviticus.txt", import.meta.url),
    );
    const sha256 = hex(sha256Sync(corpus));
    await Deno.writeFile(`${dir}/shard.txt`, corpus);
    const genesis = localGenesis({
      name: "netns",
      validators: [v.address],
      genesisTime: Date.now() + 15_000,
      windowMs: WINDOW_MS,
      sparseloco: { H: 4 },
      data: { corpus: [{ path: "shard.txt", sha256, bytes: corpus.length }], batch: 2 },
    });
    const text = JSON.stringify(genesis, null, 2) + "\n";
    await Deno.writeTextFile(`${dir}/genesis.json`, text);
    await Deno.writeTextFile(`${dir}/joiner/genesis.json`, text);
    await Deno.writeTextFile(
      `${dir}/other.json`,
      JSON.stringify({ ...genesis, genesisTime: genesis.genesisTime + 1 }),
    );

    const watch = new RoleWatch(55_000);
    const until = watch.until.bind(watch);

    const lab = await NetnsLab.create(2);
    const [h0, h1] = lab.hosts;
    try {
      watch.spawnRole(lab, h0, "validator", "validator", [
        ...["--genesis", `${dir}/genesis.json`, "--key", `${dir}/validator.json`],
        ...["--data-dir", `${dir}/validator`, "--listen", `/ip4/${h0.ip}/tcp/0`],
      ]);
      const vl = await until("the validator listening", () => watch.listening("validator"));
      assert(
        vl.addresses.length > 0 && vl.addresses.every((a) => a.startsWith(`/ip4/${h0.ip}/tcp/`)),
        vl.addresses.join(" "),
      );
      const bootstrap = vl.addresses[0];

      watch.spawnRole(lab, h1, "peer", "peer", [
        ...["--genesis", `${dir}/joiner/genesis.json`, "--key", `${dir}/joiner/key.json`],
        ...["--data-dir", `${dir}/joiner/data`, "--listen", "/ip4/0.0.0.0/tcp/4001"],
        ...["--announce", `/ip4/${h1.ip}/tcp/4001`, "--bootstrap", bootstrap],
      ]);
      const pl = await until("the peer listening", () => watch.listening("peer"));
      assertEquals(pl.addresses, [`/ip4/${h1.ip}/tcp/4001/p2p/${pl.peerId}`]);

      // Meanwhile, the status command's two refusals, from the peer's host.
      const status = async (args: string[]) => {
        const out: string[] = [];
        const proc = lab.spawn(h1, Deno.execPath(), denoRun(STATUS_MAIN, args), (l) => out.push(l));
        return { code: (await proc.exited).code, out: out.join("\n") };
      };
      const vid = bootstrap.slice(bootstrap.lastIndexOf("/p2p/") + 5);
      const [other, closed] = await Promise.all([
        status(["--genesis", `${dir}/other.json`, "--bootstrap", bootstrap]),
        status([
          "--genesis",
          `${dir}/joiner/genesis.json`,
          "--bootstrap",
          `/ip4/${h0.ip}/tcp/9/p2p/${vid}`,
          "--bootstrap-timeout",
          "2",
        ]),
      ]);
      assertEquals(other.code, 1, other.out);
      assert(
        other.out.includes("is not in this genesis's run") && other.out.includes("genesis file"),
        other.out,
      );
      assertEquals(closed.code, 1, closed.out);
      assert(
        closed.out.includes(`no node reachable at /ip4/${h0.ip}/tcp/9/`) &&
          closed.out.includes("port 9 is open"),
        closed.out,
      );

      const applied = await until(
        "a record selecting the peer",
        () =>
          watch.events("validator").find((e) =>
            e.event === "applied" && e.selected.includes(p.address)
          ),
      );
      assert(applied.event === "applied");
      // What it trained on came from the run: the shard, checked against the genesis hash.
      assertEquals(await Deno.readFile(`${dir}/joiner/data/content/${sha256}`), corpus);
      // The peer applies it and shows the validation loss the record carries.
      const shown = await until(
        "the peer showing the validation loss",
        () =>
          watch.events("peer").find((e) =>
            e.event === "status" && e.applied >= applied.window && e.validLoss !== null
          ),
      );
      assert(
        shown.event === "status" && shown.validLoss! > 0 && shown.validLoss! < 10,
        JSON.stringify(shown),
      );
      assertEquals(shown.modelHash, applied.modelHash.slice(0, 12));

      const s = await status([
        "--genesis",
        `${dir}/joiner/genesis.json`,
        "--bootstrap",
        bootstrap,
        "--json",
      ]);
      assertEquals(s.code, 0, s.out);
      const run = JSON.parse(s.out.split("\n").find((l) => l.startsWith("{"))!);
      assert(run.records >= 1, s.out);
      const mine = run.contributors.find((c: { address: string }) => c.address === p.address);
      assert(mine !== undefined && mine.rounds >= 1 && mine.credit > 0, s.out);
      assert(
        run.validLoss.length >= 1 && Math.abs(run.validLoss[0].loss - shown.validLoss!) < 1,
        s.out,
      );
    } finally {
      await lab.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
