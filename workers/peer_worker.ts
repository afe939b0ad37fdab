/**
 * Module Web Worker that runs the **same** peer role as `deno task peer`
 * (`startRole` from src/roles/start_role.ts), from browser parts: an {@linkcode IdbStore}
 * (state survives a reload), an sr25519 key and a libp2p key kept in that store, the browser
 * libp2p node dialing the run's WebSocket bootstrap, and WebGPU — or the CPU reference when
 * the adapter is a software one, the same rule as role_main's `--backend auto`.
 *
 * Page → worker: `PeerRequest`; worker → page: `PeerMessage` (workers/peer_protocol.ts).
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { mnemonicGenerate } from "@polkadot/util-crypto";
import { cpuOps } from "../src/backend/cpu_ops.ts";
import { gpuOps } from "../src/backend/gpu_ops.ts";
import type { Ops } from "../src/backend/ops.ts";
import { fetchDefaultCorpus } from "../src/data/corpus.ts";
import { ByteTokenizer } from "../src/data/byte_tokenizer.ts";
import { Sampler, splitTokens } from "../src/data/sampler.ts";
import { ShareTrainer } from "./share_trainer.ts";
import { adapterLabel } from "../src/gpu/device.ts";
import { KeySigner } from "../src/identity/key_signer.ts";
import { identityReady, type Signer } from "../src/identity/signer.ts";
import { DelegatedSigner } from "../src/identity/delegation.ts";
import { hexToU8a } from "@polkadot/util";
import { openRuntime } from "../src/kernels/open_runtime.ts";
import { createBrowserNode } from "../src/net/browser_node.ts";
import type { WeblocoNode } from "../src/net/node.ts";
import { type Genesis, parseGenesis } from "../src/protocol/genesis.ts";
import { IdbStore } from "../src/protocol/idb_store.ts";
import {
  dataPeerIndex,
  initialParams,
  type RunContext,
  runContext,
} from "../src/protocol/run_context.ts";
import type { StateStore } from "../src/protocol/state_store.ts";
import type { RoleEvent } from "../src/roles/role_events.ts";
import { type NodeFactory, type RoleHandle, startRole } from "../src/roles/start_role.ts";
import {
  type BackendInfo,
  type PeerMessage,
  type PeerRequest,
  walletFile,
  type WalletSession,
} from "./peer_protocol.ts";

/** The parts of DedicatedWorkerGlobalScope used here (the DOM lib types `self` as Window). */
const scope = self as unknown as {
  postMessage(message: PeerMessage): void;
  onmessage: ((ev: MessageEvent<PeerRequest>) => void) | null;
};

/** How long the first connection to a bootstrap node may take before the page is told. */
const BOOTSTRAP_TIMEOUT_MS = 15_000;

function post(m: PeerMessage): void {
  scope.postMessage(m);
}

/** The key file format `deno task keygen` writes (src/identity/key_file.ts), kept in IndexedDB. */
interface StoredKey {
  version: 1;
  type: "sr25519";
  address: string;
  mnemonic: string;
}

/** This browser's sr25519 key: the one kept in `store`, or a new one stored there. */
async function sessionKey(store: StateStore): Promise<{ signer: KeySigner; created: boolean }> {
  const bytes = await store.get("key.json");
  if (bytes !== null) {
    const k = JSON.parse(new TextDecoder().decode(bytes)) as StoredKey;
    const signer = KeySigner.fromMnemonic(k.mnemonic);
    if (signer.address !== k.address) {
      throw new Error(`${store.where}/key.json: address ${k.address} is not the key's`);
    }
    return { signer, created: false };
  }
  const mnemonic = mnemonicGenerate(12);
  const signer = KeySigner.fromMnemonic(mnemonic);
  const file: StoredKey = { version: 1, type: "sr25519", address: signer.address, mnemonic };
  await store.put("key.json", new TextEncoder().encode(JSON.stringify(file, null, 2) + "\n"));
  return { signer, created: true };
}

/** The session key of the run's wallet delegation, kept by the page (web/wallet.ts). */
async function walletSigner(store: StateStore, ctx: RunContext): Promise<DelegatedSigner> {
  const bytes = await store.get(walletFile(ctx.runIdHex));
  if (bytes === null) throw new Error("no wallet connected for this run: press Connect wallet");
  const s = JSON.parse(new TextDecoder().decode(bytes)) as WalletSession;
  const signer = new DelegatedSigner(
    KeySigner.fromMnemonic(s.session.mnemonic),
    hexToU8a(s.delegation),
    ctx.runId,
  );
  if (signer.validUntil <= Date.now()) {
    throw new Error(`the wallet's delegation ended; press Connect wallet again`);
  }
  return signer;
}

/** This browser's libp2p key (its peer id survives a reload). */
async function libp2pKey(store: StateStore): Promise<PrivateKey> {
  const bytes = await store.get("libp2p.key");
  if (bytes !== null) return privateKeyFromProtobuf(bytes);
  const key = await generateKeyPair("Ed25519");
  await store.put("libp2p.key", privateKeyToProtobuf(key));
  return key;
}

/**
 * WebGPU, unless there is none, the adapter is a software one (SwiftShader: ~16 s per tiny
 * step against ~1 s for the TypeScript reference on the same cores) or `cpu` is asked for.
 */
async function openBackend(
  cpu: boolean,
  ctx: RunContext,
): Promise<{ ops: Ops<unknown>; info: BackendInfo }> {
  const reference = (label: string, reason: string) => ({
    ops: cpuOps(32) as Ops<unknown>,
    info: { kind: "cpu" as const, label, reason },
  });
  if (cpu) return reference("CPU reference (float32)", "asked for with ?backend=cpu");
  let rt;
  try {
    rt = await openRuntime("browser");
  } catch (e) {
    return reference("no WebGPU", `${(e as Error).message}; training on the CPU reference (slow)`);
  }
  const label = adapterLabel(rt.adapter);
  if (rt.adapter.software) {
    rt.destroy();
    return reference(
      label,
      "only a software adapter: the CPU reference is faster than WebGPU on it",
    );
  }
  // The largest tensor is one storage binding: an adapter that cannot bind it cannot train.
  const largest = 4 * Math.max(...ctx.tensors.map((t) => t.shape.reduce((a, b) => a * b, 1)));
  const limit = rt.device.limits.maxStorageBufferBindingSize;
  if (largest > limit) {
    rt.destroy();
    return reference(label, `the adapter binds at most ${limit} bytes, the model needs ${largest}`);
  }
  return {
    ops: gpuOps(rt) as Ops<unknown>,
    info: { kind: "webgpu", label: `${label}, storage bindings up to ${limit} bytes` },
  };
}

/** The run's training tokens: the default corpus with the byte tokenizer (what a link supports). */
async function runTokens(genesis: Genesis): Promise<Uint32Array> {
  if (genesis.tokenizer !== "bytes" || genesis.data.corpus !== "default") {
    throw new Error(
      "this run trains on its own corpus or tokenizer files; the page supports the default " +
        "corpus with the byte tokenizer only",
    );
  }
  const tokenizer = new ByteTokenizer();
  if (tokenizer.vocabSize !== genesis.model.vocabSize) {
    throw new Error(
      `the genesis's vocabSize ${genesis.model.vocabSize} is not the byte tokenizer's ${tokenizer.vocabSize}`,
    );
  }
  const { tokens } = await fetchDefaultCorpus(tokenizer);
  return splitTokens(tokens, genesis.data.validFraction).train;
}

/**
 * Holds the lock of `profile` until the peer stops or the worker ends (resolves once held;
 * waits {@linkcode PROFILE_WAIT_MS} for a tab that is just closing). Two tabs on one profile
 * would sign two different updates per window with one key: equivocation, for which the
 * validator bans the key.
 */
function holdProfile(profile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const signal = AbortSignal.timeout(PROFILE_WAIT_MS);
    navigator.locks.request(`webloco-peer:${profile}`, { signal }, () => {
      resolve();
      return new Promise<void>((release) => releaseProfile = release);
    }).catch(() =>
      reject(
        new Error(
          `another tab of this browser already runs a peer with this key (profile "${profile}"); ` +
            "add &profile=NAME to the link for a second peer",
        ),
      )
    );
  });
}

/** How long a start waits for another tab's peer of the same profile to let go. */
const PROFILE_WAIT_MS = 5_000;

let releaseProfile: (() => void) | null = null;

/** The browser node, which must reach a bootstrap node within {@linkcode BOOTSTRAP_TIMEOUT_MS}. */
function nodeFactory(bootstrap: readonly string[]): NodeFactory {
  return async (o) => {
    const node: WeblocoNode = await createBrowserNode(o);
    const deadline = Date.now() + BOOTSTRAP_TIMEOUT_MS;
    while (node.peers().length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    if (node.peers().length === 0) {
      await node.stop();
      throw new Error(
        `no reachable bootstrap node within ${BOOTSTRAP_TIMEOUT_MS / 1000} s (${
          bootstrap.join(", ")
        }): is the run still up, and its WebSocket address right?`,
      );
    }
    return node;
  };
}

let role: RoleHandle | null = null;
let store: IdbStore | null = null;

async function start(req: Extract<PeerRequest, { type: "start" }>): Promise<void> {
  await identityReady();
  const genesis = parseGenesis(req.genesis, "the link's genesis");
  const ctx: RunContext = runContext(genesis);
  if (req.runId !== null && req.runId !== ctx.runIdHex) {
    throw new Error(
      `the link's run id ${req.runId.slice(0, 12)}… does not match its genesis (run ${
        ctx.runIdHex.slice(0, 12)
      }…): ask for a fresh link`,
    );
  }
  await holdProfile(req.profile);
  store = await IdbStore.open(req.profile);
  const ids = store.sub("identity");
  const { signer, created }: { signer: Signer; created: boolean } = req.wallet
    ? { signer: await walletSigner(ids, ctx), created: false }
    : await sessionKey(ids);
  const key = await libp2pKey(ids);
  post({
    type: "identity",
    runId: ctx.runIdHex,
    address: signer.address,
    wallet: signer instanceof DelegatedSigner ? signer.wallet : undefined,
    peerId: peerIdFromPrivateKey(key).toString(),
    created,
  });
  const { ops, info } = await openBackend(req.cpu, ctx);
  post({ type: "backend", backend: info });
  const tokens = await runTokens(genesis);
  post({
    type: "event",
    event: {
      event: "log",
      address: signer.address,
      line: `corpus: ${tokens.length} training tokens`,
    },
  });
  // The tab's share of a window, from a short benchmark on its own backend (then every window).
  const g = genesis;
  const trainer = new ShareTrainer(
    ctx,
    ops,
    Sampler.ofRun(tokens, g),
    dataPeerIndex(signer.publicKey),
    (share) => post({ type: "share", share }),
  );
  post({ type: "share", share: await trainer.benchmark(initialParams(ctx)) });
  role = await startRole({
    role: "peer",
    ctx,
    signer,
    store: store.sub(`run-${ctx.runIdHex.slice(0, 16)}`),
    libp2pKey: key,
    createNode: nodeFactory(req.bootstrap),
    bootstrap: req.bootstrap,
    emit: (event: RoleEvent) => post({ type: "event", event }),
    ops,
    tokens,
    makeTrainer: () => trainer,
  });
}

async function stop(): Promise<void> {
  const r = role;
  role = null;
  await r?.stop();
  store?.close();
  store = null;
  releaseProfile?.();
  releaseProfile = null;
  post({ type: "stopped" });
}

let busy: Promise<void> = Promise.resolve();
scope.onmessage = (ev) => {
  const req = ev.data;
  // One request at a time: a Stop while starting waits for the start to finish.
  busy = busy.then(async () => {
    try {
      if (req.type === "start") {
        if (role !== null) throw new Error("the peer is already running");
        await start(req);
      } else {
        await stop();
      }
    } catch (e) {
      post({ type: "error", message: e instanceof Error ? e.message : String(e) });
      await stop().catch(() => {});
    }
  });
};
