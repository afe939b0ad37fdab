/**
 * The volunteer page (web/peer.html): reads the run from its link (src/net/run_link.ts),
 * starts workers/peer_worker.ts — the same peer role as `deno task peer` — on Start, and shows
 * its live status: window, phase, inner step, loss, round applied, model hash, bytes,
 * connections, its standing in the last record, its wallet's credit (recomputed from the records
 * it holds) and its training speed.
 *
 * For Playwright it keeps `globalThis.__peer` (a {@linkcode PeerPageState}) up to date.
 */
import type { RoleEvent } from "../src/roles/role_events.ts";
import { readRunLink, type RunLink } from "../src/net/run_link.ts";
import { IdbStore } from "../src/protocol/idb_store.ts";
import { drawLossChart } from "./loss_chart.ts";
import type { PeerMessage, PeerPageState, PeerRequest } from "../workers/peer_protocol.ts";
import { connectWallet, keptWalletSession } from "./wallet.ts";
import { parseGenesis, runIdOf } from "../src/protocol/genesis.ts";
import { hex } from "../src/util/hex.ts";

/** Log lines kept on the page. */
const MAX_LOG = 200;

const $ = (id: string) => document.getElementById(id)!;
const state: PeerPageState = { events: [], logs: [], stopped: false };
globalThis.__peer = state;

function message(text: string, isError = false): void {
  const el = $("message");
  el.textContent = text;
  el.className = isError ? "error" : "";
  if (isError) state.error = text;
}

function log(line: string): void {
  state.logs.push(line);
  if (state.logs.length > MAX_LOG) state.logs.shift();
  const el = $("log");
  el.textContent = state.logs.slice(-40).join("\n");
}

/** Tokens per inner step: the genesis's batch × context, read from the link for the speed. */
function tokensPerStep(link: RunLink): number {
  try {
    const g = JSON.parse(link.genesis);
    return g.data.batch * g.model.context;
  } catch {
    return NaN;
  }
}

function show(e: RoleEvent, perStep: number): void {
  switch (e.event) {
    case "status":
      state.status = e;
      $("window").textContent = String(e.window);
      $("phase").textContent = e.phase;
      $("step").textContent = `${e.step} / ${e.of}`;
      $("loss").textContent = e.loss === null ? "–" : e.loss.toFixed(3);
      $("applied").textContent = String(e.applied);
      $("hash").textContent = e.modelHash;
      $("bytes").textContent = `${kb(e.bytesUp)} / ${kb(e.bytesDown)}`;
      $("connections").textContent = String(e.connections);
      $("standing").textContent = e.standing === null
        ? "not judged yet"
        : `${e.standing.verdict} (score ${e.standing.score.toFixed(3)})`;
      $("credit").textContent = e.credit === null
        ? "none handed out yet"
        : `${e.credit.wallet}: ${
          (100 * e.credit.share).toFixed(1)
        }% of the credit in ${e.credit.records} records`;
      return;
    case "log":
      log(e.line);
      return;
    case "round":
      $("speed").textContent = (e.steps * perStep / (e.computeMs / 1000)).toFixed(0);
      drawLossChart(
        $("chart") as HTMLCanvasElement,
        [...state.events.filter((x) => x.event === "round").map((x) => x.loss), e.loss],
      );
      log(`window ${e.window}: ${e.steps} steps, loss ${e.loss.toFixed(3)}, ${kb(e.bytesUp)} up`);
      break;
    case "applied":
      log(
        `record ${e.window} applied: model ${
          e.modelHash.slice(0, 12)
        }, ${e.contributors} contributor(s)`,
      );
      break;
    case "caught-up":
      log(`caught up: ${e.records} record(s) in ${(e.ms / 1000).toFixed(1)} s`);
      break;
  }
  state.events.push(e);
}

function kb(n: number): string {
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} kB`;
}

/**
 * Downloads the key the worker keeps in IndexedDB (identity/key.json: the key file format of
 * `deno task keygen`), so the same identity can run `deno task peer --key FILE`.
 */
async function exportKey(profile: string, address: string): Promise<void> {
  const store = await IdbStore.open(profile);
  try {
    const bytes = await store.sub("identity").get("key.json");
    if (bytes === null) throw new Error(`${store.where}/identity/key.json: no key kept yet`);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(
      new Blob([new TextDecoder().decode(bytes)], { type: "application/json" }),
    );
    a.download = `webloco-key-${address.slice(0, 8)}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  } finally {
    store.close();
  }
}

function main(): void {
  let link: RunLink;
  try {
    link = readRunLink(new URLSearchParams(location.search));
  } catch (e) {
    message((e as Error).message, true);
    return;
  }
  $("bootstrap").textContent = link.bootstrap.join(", ");
  $("run").textContent = link.runId ?? "(from the genesis)";
  const perStep = tokensPerStep(link);
  const start = $("start") as HTMLButtonElement, stop = $("stop") as HTMLButtonElement;
  const exporter = $("export") as HTMLButtonElement;
  exporter.onclick = () =>
    void exportKey(link.profile, state.address!).catch((e) => message((e as Error).message, true));
  let worker: Worker | null = null;
  const connect = $("connect") as HTMLButtonElement, local = $("local") as HTMLButtonElement;
  let useWallet = false;
  const showWallet = (wallet: string | null, until?: number) => {
    useWallet = wallet !== null;
    state.wallet = wallet ?? undefined;
    $("wallet").textContent = wallet === null
      ? "none: credit goes to the key kept in this browser"
      : `${wallet} (credit goes to it; delegation until ${new Date(until!).toLocaleString()})`;
  };
  const idle = (on: boolean) => {
    start.disabled = !on;
    connect.disabled = !on;
    local.disabled = !on;
  };
  // The run id of the link's genesis, for the delegation (the worker checks the link's too).
  let runIdHex: string | null = null;
  try {
    runIdHex = hex(runIdOf(parseGenesis(link.genesis, "the link's genesis")));
  } catch (e) {
    message((e as Error).message, true);
    return;
  }
  const ids = () => IdbStore.open(link.profile);
  const withIds = async <T>(f: (s: IdbStore) => Promise<T>): Promise<T> => {
    const store = await ids();
    try {
      return await f(store);
    } finally {
      store.close();
    }
  };
  connect.onclick = () => {
    idle(false);
    message("asking the wallet extension: allow access, then sign the delegation once");
    void withIds((s) => connectWallet(s.sub("identity"), runIdHex!))
      .then((w) => {
        showWallet(w.wallet, w.validUntil);
        message(`wallet connected: ${w.wallet} delegated this tab's session key; press Start`);
      })
      .catch((e) => message((e as Error).message, true))
      .finally(() => idle(true));
  };
  local.onclick = () => {
    showWallet(null);
    message("using the key kept in this browser; press Start");
  };
  const ended = (why: string, isError: boolean) => {
    message(why, isError);
    worker?.terminate();
    worker = null;
    idle(true);
    stop.disabled = true;
  };
  start.onclick = () => {
    idle(false);
    stop.disabled = false;
    state.stopped = false;
    delete state.error;
    message("starting: keys, backend, corpus, then the network");
    worker = new Worker(new URL("../workers/peer_worker.ts", import.meta.url), { type: "module" });
    worker.onerror = (ev) => ended(`the worker failed: ${ev.message || "could not load it"}`, true);
    worker.onmessage = (ev: MessageEvent<PeerMessage>) => {
      const m = ev.data;
      switch (m.type) {
        case "identity":
          state.runId = m.runId;
          state.address = m.address;
          state.peerId = m.peerId;
          state.keyCreated = m.created;
          $("run").textContent = m.runId;
          exporter.disabled = m.wallet !== undefined;
          $("identity").textContent = `${m.address} (${
            m.wallet !== undefined
              ? `session key of wallet ${m.wallet}`
              : m.created
              ? "new key kept in this browser"
              : "key kept in this browser"
          })`;
          break;
        case "backend":
          state.backend = m.backend;
          $("backend").textContent = m.backend.kind === "webgpu"
            ? `WebGPU: ${m.backend.label}`
            : `CPU reference — ${m.backend.label}: ${m.backend.reason}`;
          message("connecting to the run");
          break;
        case "share":
          state.share = m.share;
          $("share").textContent = `${m.share.steps} of ${m.share.of} steps per window (${
            m.share.from === "benchmark" ? "benchmark" : "measured"
          }: ${m.share.stepMs.toFixed(0)} ms a step, ${
            m.share.compressMs.toFixed(0)
          } ms to compress)`;
          break;
        case "event":
          if (m.event.event === "caught-up") message("training with the run");
          show(m.event, perStep);
          break;
        case "error":
          ended(m.message, true);
          break;
        case "stopped":
          state.stopped = true;
          if (state.error === undefined) ended("stopped; the state is kept in this browser", false);
          break;
      }
    };
    const req: PeerRequest = {
      type: "start",
      genesis: link.genesis,
      runId: link.runId,
      bootstrap: link.bootstrap,
      profile: link.profile,
      cpu: link.cpu,
      wallet: useWallet,
    };
    worker.postMessage(req);
  };
  stop.onclick = () => {
    stop.disabled = true;
    message("stopping after the current inner step");
    worker?.postMessage({ type: "stop" } satisfies PeerRequest);
  };
  void withIds((s) => keptWalletSession(s.sub("identity"), runIdHex!)).then((kept) => {
    if (kept !== null) showWallet(kept.wallet, kept.validUntil);
    idle(true);
    message(
      kept !== null
        ? "ready: the wallet delegation is kept; press Start to join the run"
        : "ready: connect a wallet or use a key kept in this browser, then press Start",
    );
  }).catch((e) => message(`cannot open this browser's storage: ${(e as Error).message}`, true));
}

main();
