/**
 * A run under internet conditions: a validator and two peers, each in its own network
 * namespace, on links with 80 ms ± 20 ms one-way delay, 1% loss and 20 Mbit/s (`tc netem`
 * where the kernel has it, else the userspace WAN relay, see wan_lab.ts). Rounds complete,
 * every peer applies each record with the validator's model hash, and a peer that cannot be
 * dialled (it listens on its own loopback only, like a host behind a NAT) is still selected:
 * its update travels over the connection it dialled. Skipped where namespaces cannot be made.
 */

import { writeKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { sha256Sync } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { assert, assertEquals } from "./assert.ts";
import { NetnsLab, netnsUnavailable } from "./netns.ts";
import { RoleWatch } from "./netns_roles.ts";
import { INTERNET, shapeLinks } from "./wan_lab.ts";

const unavailable = await netnsUnavailable();
if (unavailable !== null) console.log(`wan test skipped: ${unavailable}`);

Deno.test({
  name: "wan a validator and two peers on shaped links complete rounds on one hash",
  ignore: unavailable !== null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await identityReady();
    const dir = await Deno.makeTempDir({ prefix: "webloco-wan-" });
    const seed = (n: number) => new Uint8Array(32).fill(n);
    const v = await writeKeyFile(`${dir}/validator.json`, { seed: seed(51) });
    const p1 = await writeKeyFile(`${dir}/p1.json`, { seed: seed(52) });
    const p2 = await writeKeyFile(`${dir}/p2.json`, { seed: seed(53) });
    const corpus = await Deno.readFile(
      new URL("../../data/kjv_genesis_leviticus.txt", import.meta.url),
    );
    await Deno.writeFile(`${dir}/shard.txt`, corpus);
    const genesis = localGenesis({
      name: "wan",
      validators: [v.address],
      genesisTime: Date.now() + 20_000,
      windowMs: 8_000,
      sparseloco: { H: 4 },
      data: {
        corpus: [{ path: "shard.txt", sha256: hex(sha256Sync(corpus)), bytes: corpus.length }],
        batch: 2,
      },
    });
    await Deno.writeTextFile(`${dir}/genesis.json`, JSON.stringify(genesis));
    const common = (name: string, key: string) => [
      ...["--genesis", `${dir}/genesis.json`, "--key", key, "--data-dir", `${dir}/${name}`],
    ];

    const watch = new RoleWatch(85_000);
    const lab = await NetnsLab.create(4);
    const [h0, h1, h2] = lab.hosts;
    const links = await shapeLinks(lab, [h0, h1, h2], 4001, INTERNET);
    console.log(`wan test: links shaped by ${links.kind}`);
    try {
      const vAt = links.dialable(h0, 4001);
      watch.spawnRole(lab, h0, "validator", "validator", [
        ...common("validator", `${dir}/validator.json`),
        ...["--listen", `/ip4/${h0.ip}/tcp/4001`, "--announce", `/ip4/${vAt.ip}/tcp/${vAt.port}`],
      ]);
      const vl = await watch.until("the validator listening", () => watch.listening("validator"));
      assert(vl.addresses[0].startsWith(`/ip4/${vAt.ip}/tcp/${vAt.port}/p2p/`), vl.addresses[0]);
      const bootstrap = vl.addresses[0];
      const p1At = links.dialable(h1, 4001);
      watch.spawnRole(lab, h1, "p1", "peer", [
        ...common("p1", `${dir}/p1.json`),
        ...["--listen", `/ip4/${h1.ip}/tcp/4001`, "--announce", `/ip4/${p1At.ip}/tcp/${p1At.port}`],
        ...["--bootstrap", bootstrap],
      ]);
      // Not dialable from any other host: it listens on its namespace's loopback only.
      watch.spawnRole(lab, h2, "p2", "peer", [
        ...common("p2", `${dir}/p2.json`),
        ...["--listen", "/ip4/127.0.0.1/tcp/0", "--bootstrap", bootstrap],
      ]);

      const records = () =>
        watch.events("validator").flatMap((e) => e.event === "applied" ? [e] : []);
      await watch.until(
        "two records, one selecting the undialable peer",
        () =>
          records().length >= 2 && records().some((r) => r.selected.includes(p2.address))
            ? true
            : undefined,
      );
      for (const name of ["p1", "p2"]) {
        for (const r of records().slice(0, 2)) {
          const mine = await watch.until(
            `${name} applying window ${r.window}`,
            () => watch.events(name).find((e) => e.event === "applied" && e.window === r.window),
          );
          assert(mine.event === "applied");
          assertEquals(mine.modelHash, r.modelHash, `${name} window ${r.window}`);
        }
      }
      assert(records().some((r) => r.selected.includes(p1.address)), "p1 never selected");
      if (links.kind === "relay") {
        await links.close();
        const stats = links.relayStats();
        // Every connection dialled passed the relay, and the delays held payload bytes.
        assert(
          stats !== null && stats.connections >= 2 && stats.bytes > 10_000,
          JSON.stringify(stats),
        );
      }
    } finally {
      await links.close();
      await lab.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
