import { assert, assertEquals } from "../testing/assert.ts";
import { writeKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";
import { localGenesis } from "../protocol/local_genesis.ts";
import { sha256Sync } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { Rng } from "../util/rng.ts";
import { pollUntil } from "../testing/poll_until.ts";
import { ContentDir } from "./genesis_file_content.ts";
import { readLines } from "./swarm.ts";

Deno.test("ContentDir keeps a partial download across a restart and serves it once complete", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sha = "cd".repeat(32);
    const first = await ContentDir.open(dir);
    await first.partial(sha).append(Uint8Array.of(1, 2, 3, 4));
    assertEquals(await first.size(sha), undefined); // a partial file is not served
    const again = await ContentDir.open(dir); // a restart
    const p = again.partial(sha);
    assertEquals(await p.length(), 4);
    await p.truncate(2);
    await p.append(Uint8Array.of(9));
    assertEquals(await p.read(0, 3), Uint8Array.of(1, 2, 9));
    await p.complete();
    assertEquals([await again.size(sha), await again.read(sha, 1, 2)], [3, Uint8Array.of(2, 9)]);
    assertEquals(await Deno.readFile(`${dir}/content/${sha}`), Uint8Array.of(1, 2, 9));
    assertEquals(await p.length(), 0); // the .part file became the file
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const ROLE_MAIN = new URL("./role_main.ts", import.meta.url).pathname;

/** A role process and the JSON lines it printed. */
interface Role {
  child: Deno.ChildProcess;
  events: Record<string, unknown>[];
  stderr: string[];
}

function spawnRole(role: string, args: string[]): Role {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ROLE_MAIN, role, "--backend", "cpu", "--json", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const r: Role = { child, events: [], stderr: [] };
  void readLines(child.stdout, (line) => {
    try {
      r.events.push(JSON.parse(line));
    } catch {
      r.stderr.push(line);
    }
  }).catch(() => {});
  void readLines(child.stderr, (line) => r.stderr.push(line)).catch(() => {});
  return r;
}

/** Waits up to `ms` for `f` to find something; the timeout shows `r`'s last stderr lines. */
function waitFor<T>(what: string, ms: number, r: Role, f: () => T | undefined): Promise<T> {
  return pollUntil(what, f, { deadline: Date.now() + ms, logs: r.stderr, tail: 5 });
}

Deno.test({
  name:
    "a peer with only the genesis file and a bootstrap address fetches the corpus, trains and serves it",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const roles: Role[] = [];
    try {
      await identityReady();
      const rng = new Rng(7);
      const words = ["the", "run", "peer", "trains", "on", "shards", "of", "text", "\n"];
      const text = Array.from({ length: 20_000 }, () => words[rng.int(words.length)]).join(" ");
      const corpus = new TextEncoder().encode(text);
      const sha256 = hex(sha256Sync(corpus));
      await Deno.mkdir(`${dir}/run`);
      await Deno.mkdir(`${dir}/joiner`);
      await Deno.writeFile(`${dir}/run/shard.txt`, corpus);
      const seed = (s: string) => ({ seed: sha256Sync(new TextEncoder().encode(s)) });
      const validator = await writeKeyFile(`${dir}/run/validator.key`, seed("validator"));
      await writeKeyFile(`${dir}/joiner/peer.key`, seed("peer"));
      const genesis = localGenesis({
        validators: [validator.address],
        genesisTime: Date.now() + 3_000,
        windowMs: 8_000,
        data: { corpus: [{ path: "shard.txt", sha256, bytes: corpus.length }], batch: 2 },
        sparseloco: { H: 2 },
      });
      const text2 = JSON.stringify(genesis, null, 2);
      await Deno.writeTextFile(`${dir}/run/genesis.json`, text2);
      await Deno.writeTextFile(`${dir}/joiner/genesis.json`, text2); // and nothing else

      const v = spawnRole("validator", [
        ...["--genesis", `${dir}/run/genesis.json`, "--key", `${dir}/run/validator.key`],
        ...["--data-dir", `${dir}/run/data`, "--listen", "/ip4/127.0.0.1/tcp/0"],
      ]);
      roles.push(v);
      const addrs = await waitFor(
        "the validator's addresses",
        30_000,
        v,
        () => v.events.find((e) => e.event === "listening")?.addresses as string[] | undefined,
      );
      const p = spawnRole("peer", [
        ...["--genesis", `${dir}/joiner/genesis.json`, "--key", `${dir}/joiner/peer.key`],
        ...["--data-dir", `${dir}/joiner/data`, "--listen", "/ip4/127.0.0.1/tcp/0"],
        ...["--bootstrap", addrs[0]],
      ]);
      roles.push(p);
      const lines = () => p.events.filter((e) => e.event === "log").map((e) => String(e.line));
      await waitFor("the download", 30_000, p, () => lines().find((l) => l.startsWith("fetched ")));
      assert(
        lines().some((l) => /^fetching data\.corpus\[0\] "shard\.txt": 0\.1 of 0\.1 MiB/.test(l)),
        lines().join("\n"),
      );
      assertEquals(await Deno.readFile(`${dir}/joiner/data/content/${sha256}`), corpus);
      await waitFor(
        "an inner step",
        30_000,
        p,
        () => p.events.find((e) => e.event === "status" && (e.step as number) > 0),
      );
      // Peers serve what they fetched: a second joiner knows only the first peer's address.
      await writeKeyFile(`${dir}/joiner/peer2.key`, seed("peer2"));
      const peerAddrs = p.events.find((e) => e.event === "listening")!.addresses as string[];
      const q = spawnRole("peer", [
        ...["--genesis", `${dir}/joiner/genesis.json`, "--key", `${dir}/joiner/peer2.key`],
        ...["--data-dir", `${dir}/joiner/data2`, "--listen", "/ip4/127.0.0.1/tcp/0"],
        ...["--bootstrap", peerAddrs[0]],
      ]);
      roles.push(q);
      await waitFor(
        "the second download",
        30_000,
        q,
        () => q.events.find((e) => e.event === "log" && String(e.line).startsWith("fetched ")),
      );
      assertEquals(await Deno.readFile(`${dir}/joiner/data2/content/${sha256}`), corpus);
    } finally {
      for (const r of roles) {
        try {
          r.child.kill("SIGTERM");
        } catch { /* already gone */ }
        await r.child.status;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});
