/**
 * A run on shaped links, for the WAN test and `deno task bench:wan`: a validator and two peers,
 * each in its own namespace of a {@linkcode NetnsLab} (a fourth host holds the WAN relay where
 * the kernel has no netem), links shaped by {@linkcode shapeLinks}. Peer `p1` listens on its
 * host and announces the address others dial it at; peer `p2` has no listening port
 * (`--listen none`), so nobody can dial it (a host behind a NAT) and it takes part through
 * the connection it dialled to the validator.
 *
 * @module
 */

import { writeKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { sha256Sync } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { NetnsLab } from "./netns.ts";
import { RoleWatch } from "./netns_roles.ts";
import type { WanConditions } from "./wan_relay.ts";
import { shapeLinks, type WanLinks } from "./wan_lab.ts";
import type { AppliedEvent } from "../roles/role_events.ts";

/** What a run is made of. */
export interface WanRunOptions {
  /** The links' conditions; null: unshaped (a baseline). */
  conditions: WanConditions | null;
  windowMs: number;
  /** Inner steps per window. */
  H: number;
  /** The deadline of every wait on the run (ms). */
  timeoutMs: number;
}

/** A started run; {@linkcode close} stops it and deletes everything it made. */
export interface WanRun {
  readonly watch: RoleWatch;
  readonly links: WanLinks;
  /** The wallet addresses of p1 (dialable) and p2 (not). */
  readonly p1: string;
  readonly p2: string;
  /** The validator's records so far. */
  records(): AppliedEvent[];
  close(): Promise<void>;
}

const PORT = 4001;

/** Starts the validator and the two peers; resolves once the validator listens. */
export async function startWanRun(o: WanRunOptions): Promise<WanRun> {
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
    windowMs: o.windowMs,
    sparseloco: { H: o.H },
    data: {
      corpus: [{ path: "shard.txt", sha256: hex(sha256Sync(corpus)), bytes: corpus.length }],
      batch: 2,
    },
  });
  await Deno.writeTextFile(`${dir}/genesis.json`, JSON.stringify(genesis));
  const common = (name: string) => [
    ...["--genesis", `${dir}/genesis.json`, "--key", `${dir}/${name}.json`],
    ...["--data-dir", `${dir}/${name}`],
  ];

  const watch = new RoleWatch(o.timeoutMs);
  const lab = await NetnsLab.create(4);
  const [h0, h1, h2] = lab.hosts;
  let links: WanLinks | null = null;
  const close = async () => {
    await links?.close();
    await lab.destroy();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    links = await shapeLinks(lab, [h0, h1, h2], PORT, o.conditions);
    const vAt = links.dialable(h0, PORT);
    watch.spawnRole(lab, h0, "validator", "validator", [
      ...common("validator"),
      ...["--listen", `/ip4/${h0.ip}/tcp/${PORT}`, "--announce", `/ip4/${vAt.ip}/tcp/${vAt.port}`],
    ]);
    const vl = await watch.until("the validator listening", () => watch.listening("validator"));
    if (!vl.addresses[0].startsWith(`/ip4/${vAt.ip}/tcp/${vAt.port}/p2p/`)) {
      throw new Error(`the validator announces ${vl.addresses[0]}, not ${vAt.ip}:${vAt.port}`);
    }
    const bootstrap = vl.addresses[0];
    const p1At = links.dialable(h1, PORT);
    watch.spawnRole(lab, h1, "p1", "peer", [
      ...common("p1"),
      ...[
        "--listen",
        `/ip4/${h1.ip}/tcp/${PORT}`,
        "--announce",
        `/ip4/${p1At.ip}/tcp/${p1At.port}`,
      ],
      ...["--bootstrap", bootstrap],
    ]);
    watch.spawnRole(lab, h2, "p2", "peer", [
      ...common("p2"),
      ...["--listen", "none", "--bootstrap", bootstrap],
    ]);
  } catch (e) {
    await close();
    throw e;
  }
  return {
    watch,
    links,
    p1: p1.address,
    p2: p2.address,
    records: () => watch.events("validator").flatMap((e) => e.event === "applied" ? [e] : []),
    close,
  };
}
