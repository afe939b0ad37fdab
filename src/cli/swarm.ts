/**
 * A local run on this machine: a validator and N peers as separate `deno run` processes on
 * 127.0.0.1, each with its own key and data directory, their JSON events merged into one
 * stream, and hostile peers (src/testing/attacker_main.ts) beside them on request. Used by
 * `deno task swarm`, the network and attack tests, and the round and attack benchmarks.
 *
 * @module
 */

import { mnemonicGenerate } from "@polkadot/util-crypto";
import { readKeyFile, writeKeyFile } from "../identity/key_file.ts";
import { identityReady } from "../identity/signer.ts";
import type { KeySigner } from "../identity/key_signer.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import type { Backend } from "./backend.ts";
import { sha256Sync } from "../util/hash.ts";
import { localGenesis, type LocalGenesisOptions } from "../protocol/local_genesis.ts";
import type { Genesis } from "../protocol/genesis.ts";
import type { RoleEvent } from "../roles/role_events.ts";

/** Settings of a local run. */
export interface SwarmOptions {
  /** Folder of the run: genesis, keys, one data directory per role. */
  dir: string;
  /** Window length (ms). */
  windowMs: number;
  /** Genesis fields besides validators, time and window (model, H, batch, …). */
  genesis?: Omit<LocalGenesisOptions, "validators" | "genesisTime" | "windowMs">;
  /** Window 0 opens this long after the swarm is created (ms): time for processes to start. */
  startDelayMs: number;
  /** The roles' backend (peers train on it, the validator scores on it). */
  backend: Backend;
  /** Called with every event of every role. */
  onEvent?: (name: string, e: RoleEvent) => void;
  /** Called with each stderr line of a role. */
  onStderr?: (name: string, line: string) => void;
  /**
   * Derive every key from this seed and the role's name instead of keeping random ones: two
   * runs with the same seed have the same validator and peers (the attack tests compare a
   * clean run with a hostile one of the same honest peers).
   */
  keySeed?: string;
  /** Scoring parameters of the run's genesis (`gauntlet`); default GAUNTLET.md's. */
  gauntlet?: Genesis["gauntlet"];
  /**
   * Validators the genesis names (default 1): "validator", "validator-1", … (several need a
   * genesis `quorum`, docs/VALIDATORS.md).
   */
  validators?: number;
  /**
   * Starts every peer with this OS niceness (`nice -n`, 0–19; default 0: none). On one shared
   * machine the peers' always-busy training threads starve the validator, which on a real
   * network has a machine of its own: a niced peer yields its cores to the validator whenever
   * the validator has work (the round bench's emulation of separate machines, said so in its
   * table).
   */
  peerNice?: number;
  /**
   * Lowers the priority of every peer's training thread alone by this much (0–19; default 0:
   * none; `WEBLOCO_TRAIN_NICE`, workers/thread_priority.ts): its network thread and every
   * other role keep theirs.
   */
  trainNice?: number;
}

/** The role name of validator `i`: "validator", then "validator-1", "validator-2", …. */
export function validatorName(i: number): string {
  return i === 0 ? "validator" : `validator-${i}`;
}

/** A running role process. */
export interface RoleProcess {
  /** "validator", "peer-0", … */
  readonly name: string;
  /** Its SS58 address. */
  readonly address: string;
  /** The process. */
  readonly child: Deno.ChildProcess;
  /** Its listen addresses, once known. */
  addresses: string[];
  /** Resolves when it exits. */
  readonly exited: Promise<Deno.CommandStatus>;
}

const ROLE_MAIN = new URL("./role_main.ts", import.meta.url).pathname;
const ATTACKER_MAIN = new URL("../testing/attacker_main.ts", import.meta.url).pathname;

/** A local run. */
export class Swarm {
  /** Settings. */
  readonly options: SwarmOptions;
  /** The run's genesis. */
  readonly genesis: Genesis;
  /** Path of the genesis file. */
  readonly genesisPath: string;
  /** Running (or exited) roles by name. */
  readonly roles = new Map<string, RoleProcess>();
  readonly #validatorKey: KeySigner;

  private constructor(
    options: SwarmOptions,
    genesis: Genesis,
    genesisPath: string,
    validatorKey: KeySigner,
  ) {
    this.options = options;
    this.genesis = genesis;
    this.genesisPath = genesisPath;
    this.#validatorKey = validatorKey;
  }

  /**
   * A fresh run in `options.dir`: keys are kept (created when missing), role data
   * directories from an earlier run are removed, and a new genesis is written.
   */
  static async create(options: SwarmOptions): Promise<Swarm> {
    await identityReady();
    await Deno.mkdir(`${options.dir}/keys`, { recursive: true });
    for await (const e of Deno.readDir(options.dir)) {
      if (
        e.isDirectory && (e.name === "validator" || /^(peer|attacker|validator)-\d+$/.test(e.name))
      ) {
        await Deno.remove(`${options.dir}/${e.name}`, { recursive: true });
      }
    }
    if (options.keySeed !== undefined) {
      for await (const e of Deno.readDir(`${options.dir}/keys`)) {
        await Deno.remove(`${options.dir}/keys/${e.name}`);
      }
    }
    const vs = [];
    for (let i = 0; i < (options.validators ?? 1); i++) {
      vs.push(await keyOf(`${options.dir}/keys/${validatorName(i)}.json`, options.keySeed));
    }
    const v = vs[0];
    const genesis: Genesis = {
      ...localGenesis({
        name: "swarm",
        ...options.genesis,
        validators: vs.map((k) => k.address),
        genesisTime: Date.now() + options.startDelayMs,
        windowMs: options.windowMs,
      }),
      ...(options.gauntlet === undefined ? {} : { gauntlet: options.gauntlet }),
    };
    const path = `${options.dir}/genesis.json`;
    await writeFileAtomic(path, JSON.stringify(genesis, null, 2) + "\n");
    return new Swarm(options, genesis, path, v);
  }

  /**
   * Starts (or restarts) validator `i` (default the first), bootstrapping from the other
   * validators started so far, and waits until it listens. `main` replaces the role's entry
   * point and arguments (a test's hostile validator with the same key and data directory).
   */
  async startValidator(i = 0, main?: string[]): Promise<RoleProcess> {
    const name = validatorName(i);
    return await this.#spawn(name, `${this.options.dir}/keys/${name}.json`, [
      ...this.#bootstrap(name),
      ...(main === undefined ? ["--backend", this.options.backend] : []),
    ], main);
  }

  /** `--bootstrap` flags for the TCP address of every validator started so far but `self`. */
  #bootstrap(self: string): string[] {
    return [...this.roles.values()]
      .filter((r) => r.name !== self && r.name.startsWith("validator"))
      .map((r) => r.addresses.find((a) => !a.includes("/ws")) ?? r.addresses[0])
      .filter((a) => a !== undefined)
      .flatMap((a) => ["--bootstrap", a]);
  }

  /** Starts (or restarts) peer `i`, bootstrapping from the validators; waits until it listens. */
  async startPeer(i: number): Promise<RoleProcess> {
    const extra = this.#bootstrap(`peer-${i}`);
    return await this.#spawn(`peer-${i}`, `${this.options.dir}/keys/peer-${i}.json`, [
      ...extra,
      "--backend",
      this.options.backend,
    ], undefined, this.options.peerNice ?? 0, this.options.trainNice ?? 0);
  }

  /**
   * Starts hostile peer `i` (src/testing/attacker_main.ts) running attack `kind`, bootstrapping
   * from the validator, preying on the peers started so far; waits until it listens.
   */
  async startAttacker(i: number, kind: string): Promise<RoleProcess> {
    const v = this.roles.get("validator");
    const tcp = v?.addresses.find((a) => !a.includes("/ws")) ?? v?.addresses[0];
    const extra = tcp === undefined ? [] : ["--bootstrap", tcp];
    const victims = [...this.roles.values()].filter((r) => r.name.startsWith("peer-"));
    return await this.#spawn(`attacker-${i}`, `${this.options.dir}/keys/attacker-${i}.json`, [
      ...extra,
      ...victims.flatMap((r) => ["--victim", r.address]),
    ], [ATTACKER_MAIN, kind]);
  }

  /** Sends `signal` to a role (SIGKILL simulates a crash). */
  kill(name: string, signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.roles.get(name)?.child.kill(signal);
    } catch { /* already gone */ }
  }

  /** Stops every role: peers first, then the validator; SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const all = [...this.roles.values()];
    const peers = all.filter((r) => !r.name.startsWith("validator"));
    const stopAll = (rs: RoleProcess[]) => stopProcesses(rs.map((r) => r.child), graceMs);
    await stopAll(peers);
    await stopAll(all.filter((r) => r.name.startsWith("validator")));
  }

  async #spawn(
    name: string,
    keyPath: string,
    extra: string[],
    main = [ROLE_MAIN, name.startsWith("validator") ? "validator" : "peer"],
    nice = 0,
    trainNice = 0,
  ): Promise<RoleProcess> {
    const key = await keyOf(keyPath, this.options.keySeed);
    for (const [k, v] of [["peerNice", nice], ["trainNice", trainNice]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 19) {
        throw new RangeError(`${k} must be an integer from 0 to 19, got ${v}`);
      }
    }
    // `nice` execs the role in place: the child's pid (and its signals) stay the role's.
    const [exe, ...prefix] = nice === 0
      ? [Deno.execPath()]
      : ["nice", "-n", String(nice), Deno.execPath()];
    const child = new Deno.Command(exe, {
      args: [
        ...prefix,
        "run",
        "-A",
        "--unstable-webgpu",
        ...main,
        "--genesis",
        this.genesisPath,
        "--key",
        keyPath,
        "--data-dir",
        `${this.options.dir}/${name}`,
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--listen",
        "/ip4/127.0.0.1/tcp/0/ws",
        "--json",
        ...extra,
      ],
      ...(trainNice === 0 ? {} : { env: { WEBLOCO_TRAIN_NICE: String(trainNice) } }),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let listening!: (addrs: string[]) => void;
    const ready = new Promise<string[]>((r) => listening = r);
    const proc: RoleProcess = {
      name,
      address: key.address,
      child,
      addresses: [],
      exited: child.status,
    };
    this.roles.set(name, proc);
    void readLines(child.stdout, (line) => {
      let e: (RoleEvent & { addresses?: string[] }) | { event: "listening"; addresses: string[] };
      try {
        e = JSON.parse(line);
      } catch {
        this.options.onStderr?.(name, line);
        return;
      }
      if (e.event === "listening") {
        proc.addresses = e.addresses ?? [];
        listening(proc.addresses);
        return;
      }
      this.options.onEvent?.(name, e as RoleEvent);
    }).catch(() => {});
    void readLines(child.stderr, (line) => this.options.onStderr?.(name, line)).catch(() => {});
    const status = await Promise.race([ready.then(() => null), child.status]);
    if (status !== null) {
      throw new Error(`${name} exited with code ${status.code} before listening`);
    }
    return proc;
  }
}

/** Calls `each` with every line of `stream` (UTF-8; the last one also without a newline). */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  each: (line: string) => void,
): Promise<void> {
  let rest = "";
  const decoder = new TextDecoder();
  for await (const bytes of stream) {
    const parts = (rest + decoder.decode(bytes, { stream: true })).split("\n");
    rest = parts.pop()!;
    parts.forEach(each);
  }
  if (rest !== "") each(rest);
}

/** SIGTERM to each process, SIGKILL to those still running after `graceMs`; waits for all. */
export async function stopProcesses(
  children: readonly Deno.ChildProcess[],
  graceMs: number,
): Promise<void> {
  const signal = (s: Deno.Signal) =>
    children.forEach((c) => {
      try {
        c.kill(s);
      } catch { /* already gone */ }
    });
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), graceMs);
  await Promise.all(children.map((c) => c.status));
  clearTimeout(timer);
}

/**
 * The key file at `path`, created when missing: from a new mnemonic, or with `seed` from
 * sha256(seed/file name), the same in every run.
 */
async function keyOf(path: string, seed?: string): Promise<KeySigner> {
  try {
    return await readKeyFile(path);
  } catch (e) {
    if (!(e instanceof Error) || !/no such|not found/i.test(e.message)) throw e;
  }
  if (seed === undefined) return await writeKeyFile(path, { mnemonic: mnemonicGenerate(12) });
  const name = path.slice(path.lastIndexOf("/") + 1);
  return await writeKeyFile(path, {
    seed: sha256Sync(new TextEncoder().encode(`${seed}/${name}`)),
  });
}
