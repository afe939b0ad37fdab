/**
 * The training demo page: fetches the shipped corpus, starts workers/train_worker.ts (a module
 * Web Worker) with the run parameters from the URL query and shows every step live.
 *
 * When the run ends it sets `window.__trainResults = { adapter, losses, reports, error? }` for
 * Playwright (test/browser/train.spec.ts).
 */
import type { StepReport } from "../src/train/train_loop.ts";
import {
  DEFAULT_CORPUS,
  readTrainParams,
  type TrainMessage,
  type TrainPageResults,
  type TrainRequest,
} from "../workers/train_protocol.ts";
import { drawLossChart } from "./loss_chart.ts";

declare global {
  /** Read by Playwright as `window.__trainResults`. */
  var __trainResults: TrainPageResults | undefined;
}

/**
 * The default corpus, data/kjv_genesis_leviticus.txt (= DEFAULT_CORPUS), emitted by Vite as an
 * asset; the literal path is what lets Vite find it. `?corpus=URL` fetches another text instead.
 */
const SHIPPED_CORPUS = new URL("../data/kjv_genesis_leviticus.txt", import.meta.url);

const $ = (id: string) => document.getElementById(id)!;

function setStatus(text: string, isError = false): void {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function run(): Promise<TrainPageResults> {
  const query = new URLSearchParams(location.search);
  const out: TrainPageResults = { adapter: null, losses: [], reports: [] };
  return new Promise((resolve) => {
    let worker: Worker | null = null;
    const finish = (error?: string) => {
      worker?.terminate();
      worker = null;
      if (error !== undefined) out.error = error;
      resolve(out);
    };
    (async () => {
      const options = readTrainParams((k) => query.get(k));
      const corpusUrl = query.get("corpus")
        ? new URL(query.get("corpus")!, location.href)
        : SHIPPED_CORPUS;
      $("corpus").textContent = query.get("corpus") ?? DEFAULT_CORPUS;
      setStatus("fetching corpus");
      const res = await fetch(corpusUrl);
      if (!res.ok) throw new Error(`cannot fetch corpus ${corpusUrl}: HTTP ${res.status}`);
      const text = await res.text();
      $("corpus").textContent += ` (${(text.length / 1024).toFixed(0)} KiB)`;

      setStatus("starting worker");
      worker = new Worker(new URL("../workers/train_worker.ts", import.meta.url), {
        type: "module",
      });
      worker.onerror = (ev) =>
        finish(`worker failed: ${ev.message || "could not load the worker script"}`);
      worker.onmessageerror = () => finish("worker sent a message that could not be read");
      let totalSteps = 0;
      worker.onmessage = (ev: MessageEvent<TrainMessage>) => {
        const m = ev.data;
        switch (m.type) {
          case "adapter":
            out.adapter = m.adapter;
            $("adapter").textContent = m.adapter;
            setStatus("compiling kernels, first step");
            break;
          case "start": {
            totalSteps = m.options.steps;
            const c = m.options.model;
            $("model").textContent = `d=${c.dModel} L=${c.nLayers} H=${c.nHeads}/${c.nKvHeads} ` +
              `ctx=${c.context}, batch ${m.options.batch}, seed ${m.options.seed}, ${m.tokens} tokens`;
            break;
          }
          case "step":
            showStep(m.report, totalSteps);
            break;
          case "done":
            setStatus(`done: ${out.losses.length} steps`);
            finish();
            break;
          case "error":
            finish(m.message);
            break;
        }
      };
      const request: TrainRequest = { text, options };
      worker.postMessage(request);
    })().catch((e) => finish(errorText(e)));
  });

  function showStep(r: StepReport, totalSteps: number): void {
    out.reports.push(r);
    out.losses.push(r.loss);
    if (!out.adapter && r.adapter) {
      out.adapter = r.adapter;
      $("adapter").textContent = r.adapter;
    }
    const n = out.losses.length;
    $("step").textContent = totalSteps ? `${n} / ${totalSteps}` : String(n);
    $("loss").textContent = r.loss.toFixed(4);
    $("tps").textContent = r.tokensPerSec.toFixed(0);
    $("gnorm").textContent = r.gradNorm.toFixed(3);
    $("lr").textContent = r.lr.toExponential(2);
    setStatus("training");
    drawLossChart($("chart") as HTMLCanvasElement, out.losses);
  }
}

run().then((out) => {
  if (out.error) setStatus(out.error, true);
  console.log(
    `train: adapter ${out.adapter}, losses ${JSON.stringify(out.losses)}` +
      (out.error ? `, error ${out.error}` : ""),
  );
  globalThis.__trainResults = out;
});
