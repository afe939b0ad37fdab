/**
 * Assembles a peer or a validator from injected parts — the run, a signer, a
 * {@linkcode StateStore}, a way to make the libp2p node, and for a peer its backend and
 * training tokens — and starts it. Runtime-neutral: the Deno shell (`src/cli/role_main.ts`)
 * reads the flags and files, opens the backend and the data directory and handles signals; a
 * browser worker supplies its own store and node.
 *
 * @module
 */

import type { PrivateKey } from "@libp2p/interface";
import type { Ops } from "../backend/ops.ts";
import { Sampler } from "../data/sampler.ts";
import type { Signer } from "../identity/signer.ts";
import type { WeblocoNode, WeblocoNodeOptions } from "../net/node.ts";
import { gossipRules, type RejectCounts } from "../protocol/gossip_rules.ts";
import { WalletBook } from "../identity/delegation.ts";
import { RateLimiter } from "../protocol/rate_limit.ts";
import { ModelChain } from "../protocol/model_chain.ts";
import { RecordLog } from "../protocol/record_log.ts";
import { dataPeerIndex, initialParams, type RunContext } from "../protocol/run_context.ts";
import { StateError, type StateStore } from "../protocol/state_store.ts";
import { Peer } from "./peer.ts";
import type { EventSink } from "./role_events.ts";
import { MAX_DIALED_PEERS, RoleNode } from "./role_node.ts";
import { RoleState, type SavedState } from "./role_state.ts";
import { ModelProbe } from "./model_probe.ts";
import type { LossProbe } from "../gauntlet/loss_check.ts";
import { Scorer } from "./scorer.ts";
import { Validator } from "./validator.ts";
import { type InnerLoop, type TrainerOptions, WindowTrainer } from "./window_trainer.ts";
import { heldOutBatches } from "../export/validation_loss.ts";

/** Held-out batches the validator measures after every round (the same ones every round). */
const VALID_BATCHES = 4;

/**
 * Makes and starts the libp2p node from the runtime-neutral options (run, key, gossip rules,
 * bootstrap, logger); the runtime adds its transports and listen addresses.
 */
export type NodeFactory = (options: WeblocoNodeOptions) => Promise<WeblocoNode>;

/** What every role is made of. */
export interface RoleParts {
  /** The run. */
  ctx: RunContext;
  /** This role's sr25519 signer (a validator's must be one the genesis names). */
  signer: Signer;
  /** Its state, round records (`records/`) and, for a validator, checkpoints and payloads. */
  store: StateStore;
  /** Its libp2p identity, bound to the signer in its announcements. */
  libp2pKey: PrivateKey;
  /** Makes its node. */
  createNode: NodeFactory;
  /** Addresses dialed besides the genesis's bootstrap list. */
  bootstrap?: readonly string[];
  /** Status and events; log lines are `log` events. */
  emit: EventSink;
}

/** A peer's parts besides {@linkcode RoleParts}. */
export interface PeerParts<T> extends RoleParts {
  /** "peer". */
  role: "peer";
  /** The backend its inner steps run on. */
  ops: Ops<T>;
  /** The run's training tokens (it draws its own batches from them). */
  tokens: Uint32Array;
  /**
   * Makes its trainer (default {@linkcode WindowTrainer}); the attack tests pass hostile ones,
   * the Deno shell one in a Worker on the CPU backend.
   */
  makeTrainer?: (
    ctx: RunContext,
    ops: Ops<T>,
    sampler: Sampler,
    peer: number,
    options: TrainerOptions,
  ) => InnerLoop;
  /** The operator's trainer options (`--recompute`), passed to `makeTrainer`. */
  trainer?: TrainerOptions;
}

/** A validator's parts besides {@linkcode RoleParts}. */
export interface ValidatorParts<T> extends RoleParts {
  /** "validator". */
  role: "validator";
  /** The backend its loss checks run on (forward only). */
  ops: Ops<T>;
  /** The run's training tokens (it rebuilds every peer's batches from them). */
  tokens: Uint32Array;
  /** The held-out tokens: their first batches are measured after every round (none: not). */
  valid?: Uint32Array;
  /**
   * Makes its loss probe (default {@linkcode ModelProbe} on `ops`); the Deno shell one in a
   * Worker on the CPU backend. `close` is called when the role stops or cannot start.
   */
  makeProbe?: (ctx: RunContext, ops: Ops<T>) => LossProbe & { close?(): void };
}

/** A started role. */
export interface RoleHandle {
  /** Its node. */
  readonly node: WeblocoNode;
  /** Stops the role (its state is saved), then the node. */
  stop(): Promise<void>;
}

/**
 * Starts a role: its model chain from the saved state (or θ₀), its record log, its node and
 * the role itself. A peer whose saved state is damaged quarantines it and starts from the
 * network; a validator refuses to start (throws {@linkcode StateError}): it is the run's
 * source of truth.
 */
export async function startRole<T>(parts: PeerParts<T> | ValidatorParts<T>): Promise<RoleHandle> {
  const { ctx, signer, store, emit } = parts;
  const log = (line: string) => emit({ event: "log", address: signer.address, line });
  const state = new RoleState(store);
  let saved: SavedState | null = null;
  try {
    saved = await state.load(ctx);
  } catch (e) {
    if (!(e instanceof StateError)) throw e;
    if (parts.role === "validator") {
      throw new StateError(
        `${e.message} (the validator does not start from a damaged state; move it away to start over)`,
      );
    }
    const moved = await state.quarantine();
    log(`${e.message}; kept as ${moved}, starting from the network`);
  }
  const records = await RecordLog.open(ctx, store.sub("records"), log);
  const chain = await ModelChain.at(ctx, saved?.params ?? initialParams(ctx), saved?.applied ?? -1);
  const sampler = Sampler.ofRun(parts.tokens, ctx.genesis);
  const trainer: InnerLoop | null = parts.role === "peer"
    ? (parts.makeTrainer ?? ((...a) => new WindowTrainer(...a)))(
      ctx,
      parts.ops,
      sampler,
      dataPeerIndex(signer.publicKey),
      parts.trainer ?? {},
    )
    : null;
  const wallets = new WalletBook();
  const probe: (LossProbe & { close?(): void }) | null = parts.role === "validator"
    ? (parts.makeProbe ?? ((c, o) => new ModelProbe(o, c.genesis)))(ctx, parts.ops)
    : null;
  const scorer = parts.role === "validator"
    ? await Scorer.open({
      ownerOf: wallets.ownerOf,
      ctx,
      probe: probe!,
      sampler,
      validatorKey: signer.publicKey,
      store,
      log,
    }).catch((e) => {
      probe!.close?.();
      throw e;
    })
    : null;

  const g = ctx.genesis;
  const heldOut = parts.role === "validator" && parts.valid !== undefined
    ? {
      probe: probe!,
      batches: heldOutBatches(parts.valid, g.data.batch, g.model.context, VALID_BATCHES),
    }
    : undefined;

  const rejected: RejectCounts = {};
  const onReject = (topic: string, from: string, why: string) =>
    log(`rejected a message on ${topic.split("/").at(-2)} from ${from.slice(-8)}: ${why}`);
  const node: WeblocoNode = await parts.createNode({
    runId: ctx.runId,
    privateKey: parts.libp2pKey,
    bootstrap: [...ctx.genesis.bootstrap, ...parts.bootstrap ?? []],
    bootstrapIntervalMs: 2_000,
    wantPeers: MAX_DIALED_PEERS,
    validate: gossipRules(
      ctx,
      () => node.topics,
      rejected,
      onReject,
      Date.now,
      new RateLimiter(),
      wallets,
    ),
    // Size and signature-policy refusals happen before the rules; "rejected by validator"
    // repeats what the rules already said.
    gossip: {
      onReject: (topic, from, why) => why !== "rejected by validator" && onReject(topic, from, why),
    },
    log,
  }).catch((e) => {
    // Either may hold a Worker, which would outlive a node that cannot start.
    trainer?.close?.();
    probe?.close?.();
    throw e;
  });
  const net = new RoleNode({
    ctx,
    node,
    signer,
    libp2pKey: parts.libp2pKey,
    records,
    rejected,
    capabilities: parts.role === "peer"
      ? ["train", "serve-payloads"]
      : ["validate", "serve-payloads", "serve-checkpoints"],
    log,
  });
  const role = trainer !== null
    ? new Peer({
      net,
      chain,
      trainer,
      state,
      error: saved?.error ?? new Float32Array(ctx.layout.length),
      lastTrained: saved?.lastTrained ?? -1,
      emit,
    })
    : new Validator({ net, chain, state, store, scorer: scorer!, emit, heldOut });
  try {
    await role.start();
  } catch (e) {
    trainer?.close?.();
    probe?.close?.();
    await node.stop();
    throw e;
  }
  return {
    node,
    async stop() {
      // A Worker (the probe's; the trainer's, which a peer's stop closes) outlives a role
      // whose stop threw.
      try {
        await role.stop();
      } catch (e) {
        trainer?.close?.();
        throw e;
      } finally {
        probe?.close?.();
        await node.stop();
      }
    },
  };
}
