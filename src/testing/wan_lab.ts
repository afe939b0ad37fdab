/**
 * Internet conditions for a {@linkcode NetnsLab}: `tc netem` on every host's link where the
 * kernel has the qdisc, else the userspace {@linkcode WanRelay} (`wan_relay_main.ts`) on the
 * lab's last host, with one route per shaped host. Either way a node is dialled at
 * {@linkcode WanLinks.dialable}: its own address under netem, the relay's otherwise (nodes
 * announce that address, so every connection that dials a node passes the relay).
 *
 * @module
 */

import type { NetnsHost, NetnsLab } from "./netns.ts";
import { denoRun } from "./netns_roles.ts";
import type { WanConditions, WanRelayStats } from "./wan_relay.ts";

const RELAY_MAIN = new URL("./wan_relay_main.ts", import.meta.url).pathname;
/** Relay port of shaped host i: RELAY_PORT + i. */
const RELAY_PORT = 5000;

/** The conditions of issue 11: 80 ms ± 20 ms one-way, 1% loss, 20 Mbit/s. */
export const INTERNET: WanConditions = {
  delayMs: 80,
  jitterMs: 20,
  loss: 0.01,
  mbit: 20,
  seed: 11,
};

/** How the links of a lab are shaped. */
export interface WanLinks {
  /** "netem" (the kernel) or "relay" (the userspace emulator). */
  readonly kind: "netem" | "relay";
  /** The address others dial for `host`'s `port`. */
  dialable(host: NetnsHost, port: number): { ip: string; port: number };
  /** The relay's last counts (null under netem or before its first report). */
  relayStats(): WanRelayStats | null;
  /** Stops the relay (netem goes with the namespaces). */
  close(): Promise<void>;
}

/** `tc netem` arguments for `c` (one-way, on a host's egress). */
function netemArgs(c: WanConditions): string[] {
  return [
    ...["delay", `${c.delayMs}ms`, `${c.jitterMs}ms`, "loss", `${100 * c.loss}%`],
    ...["rate", `${c.mbit}mbit`],
  ];
}

/**
 * Shapes the links of `hosts` (every host but the lab's last, which must be free for the relay)
 * with `c`; each shaped host's nodes listen on `port`. With `c` null nothing is shaped and
 * hosts are dialled directly (the bench's baseline).
 */
export async function shapeLinks(
  lab: NetnsLab,
  hosts: readonly NetnsHost[],
  port: number,
  c: WanConditions | null,
): Promise<WanLinks> {
  const direct: WanLinks = {
    kind: "netem",
    dialable: (host, p) => ({ ip: host.ip, port: p }),
    relayStats: () => null,
    close: () => Promise.resolve(),
  };
  if (c === null) return direct;
  const relayHost = lab.hosts[lab.hosts.length - 1];
  if (hosts.includes(relayHost)) {
    throw new RangeError("shapeLinks: the lab's last host is the relay's");
  }
  try {
    // Probe once: the first host's qdisc; the rest only when it worked.
    for (const h of hosts) {
      await lab.exec(h, "tc", ["qdisc", "add", "dev", h.dev, "root", "netem", ...netemArgs(c)]);
    }
    return direct;
  } catch { /* no netem here: the relay */ }
  let stats: WanRelayStats | null = null;
  let ready!: () => void;
  const listening = new Promise<void>((r) => ready = r);
  const index = new Map(hosts.map((h, i) => [h, i]));
  const proc = lab.spawn(
    relayHost,
    Deno.execPath(),
    denoRun(RELAY_MAIN, [
      ...hosts.flatMap((h, i) => ["--route", `${relayHost.ip}:${RELAY_PORT + i}=${h.ip}:${port}`]),
      ...["--delay-ms", `${c.delayMs}`, "--jitter-ms", `${c.jitterMs}`, "--loss", `${c.loss}`],
      ...["--mbit", `${c.mbit}`, "--seed", `${c.seed}`],
    ]),
    (line) => {
      if (line.startsWith('{"event":"relay"}') || line.startsWith('{"event":"relay",')) ready();
      else if (line.startsWith('{"event":"relay-stats"')) {
        const { event: _, ...counts } = JSON.parse(line);
        stats = counts;
      }
    },
  );
  const exited = proc.exited.then((s) => {
    throw new Error(`the WAN relay exited (${s.code}) before it listened`);
  });
  await Promise.race([listening, exited]);
  exited.catch(() => {});
  return {
    kind: "relay",
    dialable: (host, p) => {
      const i = index.get(host);
      if (i === undefined || p !== port) throw new RangeError(`no relay route to ${host.ip}:${p}`);
      return { ip: relayHost.ip, port: RELAY_PORT + i };
    },
    relayStats: () => stats,
    close: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
