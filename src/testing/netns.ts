/**
 * Linux network namespaces for tests: N hosts on one private link, each in its own namespace
 * with its own 10.x address, so nodes listen on and dial non-loopback addresses as on separate
 * machines. A hub namespace holds a bridge; each host is joined to it by a veth pair. Nothing
 * is added to the caller's namespace (the veths are created in it and moved out at once), and
 * {@linkcode NetnsLab.destroy} deletes every namespace, which removes the links with them.
 * Needs root (`ip netns add`); {@linkcode netnsUnavailable} says why not, for a clear skip.
 * Later WAN tests can shape a host's link with `lab.exec(host, "tc", [..., "dev", host.dev, ...])`.
 *
 * ```ts
 * const lab = await NetnsLab.create(2);
 * try {
 *   console.log(await lab.exec(lab.hosts[0], "ip", ["-br", "addr"]));
 *   const node = lab.spawn(lab.hosts[1], Deno.execPath(), ["run", "-A", "main.ts"], console.log);
 *   await node.exited;
 * } finally {
 *   await lab.destroy();
 * }
 * ```
 *
 * @module
 */

import { readLines, stopProcesses } from "../cli/swarm.ts";

/** One host of the lab. */
export interface NetnsHost {
  /** Its namespace. */
  readonly ns: string;
  /** Its address on the link (no prefix length). */
  readonly ip: string;
  /** Its link's device inside its namespace (for `tc`). */
  readonly dev: string;
}

/** A process running inside a host's namespace. */
export interface NetnsProcess {
  readonly child: Deno.ChildProcess;
  /** Resolves when it has exited and its output is read. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** Sends a signal (ignored when it is gone). */
  kill(signal?: Deno.Signal): void;
}

async function ip(args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/**
 * Null when namespaces can be made here, else why not (not root, no `ip`, no kernel support):
 * it makes and deletes one namespace to find out.
 */
export async function netnsUnavailable(): Promise<string | null> {
  const name = `wlprobe${Deno.pid}`;
  try {
    await ip(["netns", "add", name]);
  } catch (e) {
    return `cannot make a network namespace (${(e as Error).message}); run as root on Linux`;
  }
  await ip(["netns", "del", name]).catch(() => {});
  return null;
}

/** Hosts on one bridged link, each in its own namespace. */
export class NetnsLab {
  /** The hosts, `10.<a>.<b>.1`, `.2`, …. */
  readonly hosts: readonly NetnsHost[];
  readonly #namespaces: string[];
  readonly #procs = new Set<NetnsProcess>();

  private constructor(hosts: NetnsHost[], namespaces: string[]) {
    this.hosts = hosts;
    this.#namespaces = namespaces;
  }

  /**
   * `count` hosts (1..250) on a /24 of 10.0.0.0/8 picked from this process id, so parallel
   * runs do not collide. On a failure everything made so far is deleted again.
   */
  static async create(count: number): Promise<NetnsLab> {
    if (!(Number.isInteger(count) && count >= 1 && count <= 250)) {
      throw new RangeError(`NetnsLab.create: 1..250 hosts, got ${count}`);
    }
    const tag = Deno.pid % 100_000;
    const net = `10.${200 + (tag % 50)}.${Math.floor(tag / 50) % 256}`;
    const hub = `wl${tag}hub`;
    const namespaces = [hub];
    const hosts: NetnsHost[] = [];
    const lab = new NetnsLab(hosts, namespaces);
    try {
      await ip(["netns", "add", hub]);
      await ip(["-n", hub, "link", "add", "br0", "type", "bridge"]);
      await ip(["-n", hub, "link", "set", "br0", "up"]);
      for (let i = 0; i < count; i++) {
        const ns = `wl${tag}h${i}`;
        const a = `wl${tag}a${i}`, b = `wl${tag}b${i}`;
        await ip(["netns", "add", ns]);
        namespaces.push(ns);
        await ip(["link", "add", a, "netns", ns, "type", "veth", "peer", "name", b, "netns", hub]);
        await ip(["-n", hub, "link", "set", b, "master", "br0", "up"]);
        const addr = `${net}.${i + 1}`;
        await ip(["-n", ns, "addr", "add", `${addr}/24`, "dev", a]);
        await ip(["-n", ns, "link", "set", a, "up"]);
        await ip(["-n", ns, "link", "set", "lo", "up"]);
        hosts.push({ ns, ip: addr, dev: a });
      }
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  /** Runs `cmd args` in `host`'s namespace to its end; throws with its stderr on failure. */
  async exec(host: NetnsHost, cmd: string, args: string[]): Promise<string> {
    const out = await new Deno.Command("ip", {
      args: ["netns", "exec", host.ns, cmd, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    if (!out.success) throw new Error(`${cmd} in ${host.ns}: ${dec.decode(out.stderr).trim()}`);
    return dec.decode(out.stdout);
  }

  /**
   * Starts `cmd args` in `host`'s namespace (`ip netns exec` execs it, so the child is the
   * command itself); every stdout and stderr line goes to `onLine`. {@linkcode destroy}
   * kills what is still running.
   */
  spawn(
    host: NetnsHost,
    cmd: string,
    args: string[],
    onLine: (line: string, stream: "stdout" | "stderr") => void,
  ): NetnsProcess {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", host.ns, cmd, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const read = (stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr") =>
      readLines(stream, (l) => onLine(l, name));
    const output = Promise.all([read(child.stdout, "stdout"), read(child.stderr, "stderr")]);
    const proc: NetnsProcess = {
      child,
      exited: child.status.then(async (s) => {
        await output.catch(() => {});
        this.#procs.delete(proc);
        return s;
      }),
      kill(signal: Deno.Signal = "SIGTERM") {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
      },
    };
    this.#procs.add(proc);
    return proc;
  }

  /**
   * Stops the processes still running (SIGTERM, SIGKILL after `graceMs`) and deletes every
   * namespace of the lab (their links go with them).
   */
  async destroy(graceMs = 5_000): Promise<void> {
    const procs = [...this.#procs];
    await stopProcesses(procs.map((p) => p.child), graceMs);
    await Promise.all(procs.map((p) => p.exited)); // their output read to the end
    for (const ns of this.#namespaces.splice(0).reverse()) {
      await ip(["netns", "del", ns]).catch(() => {});
    }
  }
}
