/**
 * The WAN relay as a process, to run inside a test namespace (`ip netns exec NS deno run -A
 * wan_relay_main.ts …`): prints `{"event":"relay",…}` once it listens, and every 2 s
 * `{"event":"relay-stats",…}`; stops on SIGTERM.
 *
 *   wan_relay_main.ts --route HOST:PORT=HOST:PORT… --delay-ms N --jitter-ms N --loss P
 *                     --mbit N --seed N
 *
 * @module
 */

import { numberFlag, parseFlags, runCli, UsageError } from "../cli/cli.ts";
import { WanRelay, type WanRoute } from "./wan_relay.ts";

const USAGE = "usage: wan_relay_main.ts --route HOST:PORT=HOST:PORT… [--delay-ms N] " +
  "[--jitter-ms N] [--loss P] [--mbit N] [--seed N]";

function endpoint(text: string): { hostname: string; port: number } {
  const i = text.lastIndexOf(":");
  const port = Number(text.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new UsageError(`--route: bad HOST:PORT "${text}" (${USAGE})`);
  }
  return { hostname: text.slice(0, i), port };
}

await runCli(async () => {
  const { values: v } = parseFlags({
    args: Deno.args,
    options: {
      route: { type: "string", multiple: true, default: [] },
      "delay-ms": { type: "string" },
      "jitter-ms": { type: "string" },
      loss: { type: "string" },
      mbit: { type: "string" },
      seed: { type: "string" },
    },
    strict: true,
  }, USAGE);
  const routes: WanRoute[] = v.route!.map((r) => {
    const [listen, target] = r.split("=");
    if (target === undefined) throw new UsageError(`--route: need LISTEN=TARGET, got "${r}"`);
    return { listen: endpoint(listen), target: endpoint(target) };
  });
  if (routes.length === 0) throw new UsageError(`no --route (${USAGE})`);
  const relay = WanRelay.start(routes, {
    delayMs: numberFlag("delay-ms", v["delay-ms"], 80, { integer: false, min: 0 }),
    jitterMs: numberFlag("jitter-ms", v["jitter-ms"], 20, { integer: false, min: 0 }),
    loss: numberFlag("loss", v.loss, 0.01, { integer: false, min: 0 }),
    mbit: numberFlag("mbit", v.mbit, 20, { integer: false }),
    seed: numberFlag("seed", v.seed, 1, { integer: true, min: 0 }),
  });
  console.log(JSON.stringify({ event: "relay", routes }));
  const timer = setInterval(
    () => console.log(JSON.stringify({ event: "relay-stats", ...relay.stats })),
    2_000,
  );
  await new Promise<void>((resolve) => Deno.addSignalListener("SIGTERM", () => resolve()));
  clearInterval(timer);
  relay.close();
  console.log(JSON.stringify({ event: "relay-stats", ...relay.stats }));
});
