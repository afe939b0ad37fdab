import { assert, assertEquals } from "../testing/assert.ts";
import type { GossipMessage } from "./node.ts";
import { sha256 } from "../util/hash.ts";
import { hex } from "../util/hex.ts";
import { LIBP2P_TEST, TEST_RUN_ID, waitFor, withNodes, withTimeout } from "./_test_utils.ts";

const SCRIPT = new URL("./peer_main.ts", import.meta.url).pathname;

/** Reads the first line of a byte stream, leaving the rest to drain. */
async function firstLine(stream: ReadableStream<Uint8Array>, ms: number): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  const end = Date.now() + ms;
  try {
    while (!buf.includes("\n")) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no line from the child within ${ms} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        reader.read(),
        new Promise<never>((_, rej) =>
          timer = setTimeout(() => rej(new Error("child is silent")), left)
        ),
      ]).finally(() => clearTimeout(timer));
      if (r.done) throw new Error(`child closed stdout after ${JSON.stringify(buf)}`);
      buf += decoder.decode(r.value, { stream: true });
    }
    return buf.slice(0, buf.indexOf("\n"));
  } finally {
    reader.releaseLock();
  }
}

Deno.test({
  name: "deno node talks to a node in another process over tcp",
  ...LIBP2P_TEST,
  fn: async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SCRIPT, "--run-id", TEST_RUN_ID, "--payload-bytes", "1000000"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    try {
      await withTimeout(60_000, "cross-process test", async () => {
        const hello = JSON.parse(await firstLine(child.stdout, 30_000)) as {
          peerId: string;
          addresses: string[];
          payload: string;
        };
        const tcp = hello.addresses.find((a) => a.includes("/tcp/") && !a.includes("/ws"));
        assert(tcp !== undefined && tcp.startsWith("/ip4/127.0.0.1/"), JSON.stringify(hello));

        await withNodes([{ bootstrap: [tcp!] }], async ([local]) => {
          // Payload: fetched by hash from the other process.
          const bytes = await local.fetch(hello.payload, [tcp!]);
          assertEquals(bytes.length, 1_000_000);
          assertEquals(hex(await sha256(bytes)), hello.payload);

          // Gossip: hello → echo, through the other process's validator and back.
          const rounds: string[] = [];
          local.subscribe(local.topics.rounds, (m: GossipMessage) => {
            assertEquals(m.from, hello.peerId);
            rounds.push(new TextDecoder().decode(m.data));
          });
          local.subscribe(local.topics.updates, () => {});
          await waitFor(
            () =>
              local.meshPeers(local.topics.updates).includes(hello.peerId) &&
              local.meshPeers(local.topics.rounds).includes(hello.peerId),
            15_000,
            "the mesh with the child",
          );
          await local.publish(local.topics.updates, new TextEncoder().encode("hello 1"));
          await waitFor(() => rounds.includes("echo:hello 1"), 10_000, "the echo");

          // And the other way: the child fetches a payload from this process.
          const mine = await local.store.add(crypto.getRandomValues(new Uint8Array(50_000)));
          await local.publish(local.topics.updates, new TextEncoder().encode(`fetch:${mine}`));
          await waitFor(
            () =>
              rounds.some((r) => r.startsWith(`fetched:${mine}:50000`) || r.startsWith("failed:")),
            10_000,
            "the child's fetch",
          );
          assert(rounds.includes(`fetched:${mine}:50000`), rounds.join(" | "));
        });

        // Closing stdin asks the child to stop its node and exit.
        await child.stdin.close();
        const s = await withTimeout(10_000, "child exit", () => status);
        assertEquals(s.code, 0, `child exit code, stderr: ${await stderr}`);
      });
    } finally {
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }
      await status;
      await stderr.catch(() => "");
      await child.stdout.cancel().catch(() => {});
    }
  },
});
